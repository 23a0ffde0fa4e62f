package dev.infercl.server;

import com.fasterxml.jackson.databind.JsonNode;

/** Typed, range-checked reads of optional JSON fields: a field of the wrong type or out of range is a 400 naming it. */
final class Fields {
    private Fields() {}

    static String string(JsonNode o, String name, boolean required) throws ApiException {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) {
            if (required) throw ApiException.invalid(name, "'" + name + "' is required");
            return null;
        }
        if (!v.isTextual()) throw ApiException.invalid(name, "'" + name + "' must be a string");
        return v.textValue();
    }

    static boolean bool(JsonNode o, String name, boolean otherwise) throws ApiException {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return otherwise;
        if (!v.isBoolean()) throw ApiException.invalid(name, "'" + name + "' must be true or false");
        return v.booleanValue();
    }

    /** An integer in [min, max], or null when absent. 2.0 counts as 2; 2.5, "2" and 1e20 do not. */
    static Integer integer(JsonNode o, String name, long min, long max) throws ApiException {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isNumber() || !(v.isIntegralNumber() || (v.isFloatingPointNumber() && v.doubleValue() == Math.rint(v.doubleValue())))) {
            throw ApiException.invalid(name, "'" + name + "' must be an integer");
        }
        if (!v.canConvertToLong() || v.longValue() < min || v.longValue() > max || (v.isFloatingPointNumber() && Math.abs(v.doubleValue()) > 9e15)) {
            throw ApiException.invalid(name, "'" + name + "' must be in " + min + ".." + max + ", got " + v.asText());
        }
        return (int) v.longValue();
    }

    /** Any integer that fits 64 bits, or null when absent. */
    static Long longValue(JsonNode o, String name) throws ApiException {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber() || !v.canConvertToLong()) throw ApiException.invalid(name, "'" + name + "' must be a 64-bit integer");
        return v.longValue();
    }

    /** A finite number in [min, max], or {@code otherwise} when absent. */
    static float number(JsonNode o, String name, double min, double max, float otherwise) throws ApiException {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return otherwise;
        if (!v.isNumber()) throw ApiException.invalid(name, "'" + name + "' must be a number");
        double d = v.doubleValue();
        if (!Double.isFinite(d) || d < min || d > max) throw ApiException.invalid(name, "'" + name + "' must be in [" + min + ", " + max + "], got " + v.asText());
        return (float) d;
    }
}

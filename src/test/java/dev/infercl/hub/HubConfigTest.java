package dev.infercl.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** huggingface_hub's environment variables, and the system properties that override them. */
class HubConfigTest {
    static final Map<String, String> HOME = Map.of("user.home", "/home/u");

    @Test
    void defaultsAreHuggingFacesOwn() {
        var c = HubConfig.from(Map.of(), HOME);
        assertEquals(URI.create("https://huggingface.co"), c.endpoint());
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), c.cache());
        assertNull(c.token());
        assertFalse(c.offline());
    }

    @Test
    void theCacheFollowsHfHubCacheThenHfHomeThenXdg() {
        assertEquals(Path.of("/x/hub"), HubConfig.from(Map.of("XDG_CACHE_HOME", "/x/cache", "HF_HUB_CACHE", "/x/hub", "HF_HOME", "/x/home"), HOME).cache());
        assertEquals(Path.of("/x/home/hub"), HubConfig.from(Map.of("XDG_CACHE_HOME", "/x/cache", "HF_HOME", "/x/home"), HOME).cache());
        assertEquals(Path.of("/x/cache/huggingface/hub"), HubConfig.from(Map.of("XDG_CACHE_HOME", "/x/cache"), HOME).cache());
        assertEquals(Path.of("/home/u/hf/hub"), HubConfig.from(Map.of("HF_HOME", "~/hf"), HOME).cache());
    }

    @Test
    void environmentVariablesAreHonouredAndPropertiesOverrideThem() {
        var env = Map.of("HF_ENDPOINT", "https://mirror.example/", "HF_TOKEN", "hf_abc", "HF_HUB_OFFLINE", "1", "HF_HUB_CACHE", "/env/hub");
        var c = HubConfig.from(env, HOME);
        assertEquals(URI.create("https://mirror.example"), c.endpoint(), "no trailing slash");
        assertEquals("hf_abc", c.token());
        assertTrue(c.offline());
        var props = Map.of("user.home", "/home/u", "infercl.hf.endpoint", "http://127.0.0.1:1234", "infercl.hf.cache", "/prop/hub",
                "infercl.hf.offline", "false");
        var o = HubConfig.from(env, props);
        assertEquals(URI.create("http://127.0.0.1:1234"), o.endpoint());
        assertEquals(Path.of("/prop/hub"), o.cache());
        assertFalse(o.offline());
        assertEquals("hf_abc", o.token());
        assertNull(HubConfig.from(Map.of("HF_TOKEN", " "), HOME).token(), "a blank token is none");
    }
}

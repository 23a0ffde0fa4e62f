package dev.infercl.langchain4j;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.Model;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.service.AiServices;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** What InferCL cannot do is refused with a message saying what, never ignored; bad values name the parameter. */
class RefusalTest {
    static Model model;
    static InferClChatModel chat;
    static InferClStreamingChatModel streaming;

    @BeforeAll
    static void load() throws Exception {
        model = TestModels.load(2);
        chat = InferClChatModel.builder().model(model).maxTokens(8).build();
        streaming = InferClStreamingChatModel.builder().model(model).maxTokens(8).build();
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    static void refused(Class<? extends Throwable> type, String words, Executable call) {
        Throwable e = assertThrows(type, call);
        assertTrue(e.getMessage().contains(words), e.getMessage());
    }

    static ChatRequest.Builder hello() {
        return ChatRequest.builder().messages(UserMessage.from("Hello"));
    }

    @Test
    void toolsAreRefused() {
        var tool = ToolSpecification.builder().name("weather").description("the weather").build();
        refused(UnsupportedFeatureException.class, "tools", () -> chat.chat(hello().toolSpecifications(tool).build()));
        refused(UnsupportedFeatureException.class, "tools", () -> streaming.chat(hello().toolSpecifications(tool).build(), new InferClStreamingChatModelTest.Collector()));
        var call = ToolExecutionRequest.builder().id("1").name("weather").arguments("{}").build();
        refused(UnsupportedFeatureException.class, "tool execution requests", () -> chat.chat(UserMessage.from("Hi"), AiMessage.from(call)));
        refused(UnsupportedFeatureException.class, "TOOL_EXECUTION_RESULT", () -> chat.chat(UserMessage.from("Hi"),
                ToolExecutionResultMessage.from("1", "weather", "sunny")));
    }

    static class Weather {
        @Tool("the weather")
        String weather() {
            return "sunny";
        }
    }

    interface Assistant {
        String chat(String msg);
    }

    @Test
    void anAiServiceWithToolsIsRefused() {
        Assistant a = AiServices.builder(Assistant.class).chatModel(chat).tools(new Weather()).build();
        refused(UnsupportedFeatureException.class, "tools", () -> a.chat("What is the weather?"));
    }

    @Test
    void imagesAndJsonAreRefused() {
        var image = UserMessage.from(TextContent.from("What is this?"), ImageContent.from("aGVsbG8=", "image/png"));
        refused(UnsupportedFeatureException.class, "IMAGE", () -> chat.chat(image));
        refused(UnsupportedFeatureException.class, "JSON", () -> chat.chat(hello().responseFormat(ResponseFormat.JSON).build()));
    }

    @Test
    void badValuesNameTheParameter() {
        refused(InvalidRequestException.class, "temperature", () -> chat.chat(hello().temperature(3.0).build()));
        refused(InvalidRequestException.class, "topP", () -> chat.chat(hello().topP(0.0).build()));
        refused(InvalidRequestException.class, "maxOutputTokens", () -> chat.chat(hello().maxOutputTokens(0).build()));
        refused(InvalidRequestException.class, "context", () -> chat.chat("word ".repeat(2000)));
        refused(InvalidRequestException.class, "minP", () -> chat.chat(hello().parameters(InferClChatRequestParameters.builder().minP(1.0).build()).build()));
    }
}

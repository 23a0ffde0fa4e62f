package dev.infercl.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.BackendKind;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.service.AiServices;
import org.junit.jupiter.api.Test;

/** The README's example: an AiServices interface answered by InferClChatModel. */
class AiServicesExampleTest {

    interface Assistant {
        String chat(String msg);
    }

    interface Storyteller {
        @dev.langchain4j.service.SystemMessage("You tell short stories.")
        String tell(String topic);
    }

    @Test
    void anAiServiceRunsAgainstTheChatModel() {
        try (var model = InferClChatModel.builder().modelPath(TestModels.STORIES).backend(BackendKind.CPU)
                .temperature(0.0).maxTokens(32).build()) {
            Assistant assistant = AiServices.create(Assistant.class, model);
            String reply = assistant.chat("Once upon a time");
            assertTrue(reply.length() > 10, reply);
            assertEquals(model.chat("Once upon a time"), reply);

            Storyteller teller = AiServices.create(Storyteller.class, model);
            assertEquals(model.chat(ChatRequest.builder().messages(SystemMessage.from("You tell short stories."), UserMessage.from("a cat")).build())
                    .aiMessage().text(), teller.tell("a cat"));
        }
    }
}

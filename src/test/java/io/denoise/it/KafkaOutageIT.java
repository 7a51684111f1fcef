package io.denoise.it;

import io.denoise.stack.LocalStack;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The API keeps accepting jobs while Kafka is down; they run once it is back. */
class KafkaOutageIT {

    @Test
    void jobsAcceptedWhileKafkaIsDownRunOnceItIsUp() throws Exception {
        Path data = Path.of("target", "stack-it", "outage-" + System.currentTimeMillis());
        try (LocalStack stack = LocalStack.builder().dataDir(data).build().start()) {
            stack.stopKafka();
            try (AppProcess app = AppProcess.start("outage-app", stack, "api,worker", Map.of(), false)) {
                Api client = new Api(app);
                String first = client.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2}");
                String second = client.submit("{\"prompt\":\"a blue circle\",\"numInferenceSteps\":2}");
                Thread.sleep(2000);
                assertEquals("QUEUED", client.job(first).path("status").asText());
                stack.startKafka();
                client.awaitStatus(first, "SUCCEEDED", Duration.ofSeconds(120));
                client.awaitStatus(second, "SUCCEEDED", Duration.ofSeconds(60));
            }
        }
    }
}

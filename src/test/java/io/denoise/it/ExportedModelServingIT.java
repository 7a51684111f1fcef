package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.stack.LocalStack;
import org.junit.jupiter.api.Test;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The packaged service serving diffusers' own tiny ONNX export (no denoise.json, no config.json, VAE scale factor
 * 2) beside the bundled shapes model ({@code denoise.models.serve=shapes,tiny-sd}): {@code /v1/models} reports what
 * was derived from the files, and a 64×64 job on it succeeds. A process of its own, because a second Quarkus
 * application in the Quarkus test JVM cannot load the tokenizer's native library again.
 */
class ExportedModelServingIT {

    @Test
    void servesTheExportBesideShapesWithDerivedDefaultsAndLimits() throws Exception {
        Path models = Path.of("target", "stack-it", "exported-models-" + System.currentTimeMillis());
        Files.createDirectories(models);
        Files.createSymbolicLink(models.resolve("shapes"), Path.of("models", "shapes").toAbsolutePath());
        Files.createSymbolicLink(models.resolve("tiny-sd"),
                Path.of("src", "test", "resources", "real-export", "tiny-sd").toAbsolutePath());
        Path data = Path.of("target", "stack-it", "exported-" + System.currentTimeMillis());
        try (LocalStack stack = LocalStack.builder().dataDir(data).build().start();
             AppProcess app = AppProcess.start("exported-model-app", stack, "api,worker", Map.of(
                     "denoise.models.dir", models.toAbsolutePath().toString(),
                     "denoise.models.serve", "shapes,tiny-sd",
                     "denoise.api.default-model", "shapes"), true)) {
            HttpResponse<String> r = HttpClient.newHttpClient().send(app.request("/v1/models").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            JsonNode tinySd = null;
            JsonNode shapes = null;
            for (JsonNode m : new ObjectMapper().readTree(r.body()).path("models")) {
                tinySd = m.path("name").asText().equals("tiny-sd") ? m : tinySd;
                shapes = m.path("name").asText().equals("shapes") ? m : shapes;
            }
            assertNotNull(tinySd, r.body());
            assertNotNull(shapes, r.body());
            assertEquals("ddim", tinySd.path("defaults").path("scheduler").asText(), "from scheduler_config.json");
            assertEquals(512, tinySd.path("defaults").path("width").asInt(), "no unet/config.json: diffusers' ONNX default");
            assertEquals(50, tinySd.path("defaults").path("numInferenceSteps").asInt());
            assertEquals(16, tinySd.path("limits").path("minWidth").asInt(), "8 latent cells of 2 pixels");
            assertEquals(1024, tinySd.path("limits").path("maxWidth").asInt());
            assertEquals(true, tinySd.path("imageToImage").asBoolean());
            assertNotEquals("e3b0c44298", tinySd.path("hash").asText(), "a linked model is hashed through the link");
            assertEquals(64, shapes.path("defaults").path("width").asInt(), "shapes keeps its denoise.json");

            Api client = new Api(app);
            String id = client.submit("""
                    {"model": "tiny-sd", "prompt": "A painting of a squirrel eating a burger", "seed": 0,
                     "width": 64, "height": 64, "numInferenceSteps": 2, "guidanceScale": 6.0, "scheduler": "ddim"}""");
            JsonNode job = client.awaitStatus(id, "SUCCEEDED", Duration.ofSeconds(120));
            assertEquals(1, job.path("images").size());
        }
    }
}

package io.denoise.api;

import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The service serving diffusers' own tiny ONNX export (no denoise.json, no config.json, VAE scale factor 2) beside
 * the bundled shapes model: {@code /v1/models} reports what was derived from the files, and a job on it succeeds.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
@TestProfile(ExportedModelServingTest.ShapesAndTinySd.class)
class ExportedModelServingTest {

    /** {@code denoise.models.serve=shapes,tiny-sd} over a directory linking both models. */
    public static class ShapesAndTinySd implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Path dir = Path.of("target", "exported-model-serving");
            try {
                Files.createDirectories(dir);
                link(dir.resolve("shapes"), Path.of("models", "shapes"));
                link(dir.resolve("tiny-sd"), Path.of("src", "test", "resources", "real-export", "tiny-sd"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return Map.of("denoise.models.dir", dir.toString(), "denoise.models.serve", "shapes,tiny-sd",
                    "denoise.api.default-model", "shapes");
        }

        private static void link(Path link, Path target) throws IOException {
            Files.deleteIfExists(link);
            Files.createSymbolicLink(link, target.toAbsolutePath());
        }
    }

    @Test
    void modelsReportsTheDefaultsAndLimitsDerivedFromTheExport() {
        JsonPath body = given().get("/v1/models").then().statusCode(200).extract().jsonPath();
        String tinySd = "models.find { it.name == 'tiny-sd' }";
        assertEquals("ddim", body.getString(tinySd + ".defaults.scheduler"), "from scheduler_config.json");
        assertEquals(512, body.getInt(tinySd + ".defaults.width"));
        assertEquals(512, body.getInt(tinySd + ".defaults.height"));
        assertEquals(50, body.getInt(tinySd + ".defaults.numInferenceSteps"));
        assertEquals(16, body.getInt(tinySd + ".limits.minWidth"), "8 latent cells of 2 pixels");
        assertEquals(1024, body.getInt(tinySd + ".limits.maxWidth"));
        assertEquals(true, body.getBoolean(tinySd + ".imageToImage"));
        assertEquals(64, body.getInt("models.find { it.name == 'shapes' }.defaults.width"), "shapes keeps its denoise.json");
    }

    @Test
    void aJobOnTheExportSucceedsAt64By64() throws InterruptedException {
        String id = given().contentType(ContentType.JSON).body("""
                        {"model": "tiny-sd", "prompt": "A painting of a squirrel eating a burger", "seed": 0,
                         "width": 64, "height": 64, "numInferenceSteps": 2, "guidanceScale": 6.0, "scheduler": "ddim"}""")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        JobServiceTest.awaitStatus(id, "SUCCEEDED");
        given().get("/v1/jobs/" + id + "/images/0").then().statusCode(200).header("Content-Type", containsString("image/png"));
    }
}

package io.denoise.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The AUTOMATIC1111-compatible routes: one job through the same queue, workers and storage as /v1. */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class Automatic1111Test {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TestHTTPResource("/")
    URL base;

    @BeforeEach
    void apiKey() {
        TestKeys.useDefault();
    }
    @Test
    void txt2imgAnswersTheSameImageBytesAsV1ForTheSameRecipeAndItsInfoCarriesTheSeeds() throws Exception {
        String id = given().contentType(ContentType.JSON)
                .body("{\"prompt\":\"a green triangle\",\"seed\":\"4242\",\"numInferenceSteps\":3,\"width\":64,"
                        + "\"height\":64,\"scheduler\":\"dpmpp-2m-karras\",\"guidanceScale\":3.5,\"numImages\":2}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        awaitStatus(id, "SUCCEEDED");
        byte[] v1First = given().get("/v1/jobs/" + id + "/images/0").then().statusCode(200).extract().asByteArray();
        byte[] v1Second = given().get("/v1/jobs/" + id + "/images/1").then().statusCode(200).extract().asByteArray();

        Response sd = given().contentType(ContentType.JSON)
                .body("{\"prompt\":\"a green triangle\",\"seed\":4242,\"steps\":3,\"width\":64,\"height\":64,"
                        + "\"sampler_name\":\"DPM++ 2M Karras\",\"cfg_scale\":3.5,\"batch_size\":1,\"n_iter\":2,"
                        + "\"enable_hr\":false,\"restore_faces\":false,\"subseed\":-1,\"subseed_strength\":0,"
                        + "\"styles\":[],\"save_images\":false,\"send_images\":true}")
                .post("/sdapi/v1/txt2img");
        sd.then().statusCode(200);
        JsonNode body = JSON.readTree(sd.asString());
        assertEquals(2, body.get("images").size());
        assertArrayEquals(v1First, Base64.getDecoder().decode(body.get("images").get(0).asText()));
        assertArrayEquals(v1Second, Base64.getDecoder().decode(body.get("images").get(1).asText()));
        JsonNode info = JSON.readTree(body.get("info").asText());
        assertEquals(4242, info.get("seed").asLong());
        assertEquals(List.of(4242L, 4243L), longs(info.get("all_seeds")));
        assertEquals("DPM++ 2M Karras", info.get("sampler_name").asText());
        assertEquals(2, info.get("infotexts").size());
        String infotext = info.get("infotexts").get(1).asText();
        assertTrue(infotext.startsWith("a green triangle\nSteps: 3, Sampler: DPM++ 2M Karras, CFG scale: 3.5, Seed: 4243, Size: 64x64"),
                infotext);
        assertEquals("DPM++ 2M Karras", body.get("parameters").get("sampler_name").asText());
        assertEquals(4242, body.get("parameters").get("seed").asLong());
    }

    @Test
    void seedMinusOneDrawsOneAndReportsIt() throws Exception {
        JsonNode info = info(given().contentType(ContentType.JSON)
                .body("{\"prompt\":\"a blue square\",\"seed\":-1,\"steps\":2,\"width\":32,\"height\":32}")
                .post("/sdapi/v1/txt2img").then().statusCode(200).extract().asString());
        assertTrue(info.get("seed").bigIntegerValue().signum() >= 0);
        assertTrue(info.get("infotexts").get(0).asText().contains("Seed: " + info.get("seed").bigIntegerValue()));
    }

    @Test
    void img2imgUsesTheInitImageAndDenoisingStrength() throws Exception {
        String answer = given().contentType(ContentType.JSON)
                .body("{\"prompt\":\"a red circle\",\"seed\":5,\"steps\":4,\"width\":64,\"height\":64,\"sampler_name\":\"DDIM\","
                        + "\"denoising_strength\":0.5,\"resize_mode\":0,\"init_images\":[\"" + TinyPng.BASE64 + "\"]}")
                .post("/sdapi/v1/img2img").then().statusCode(200).extract().asString();
        JsonNode body = JSON.readTree(answer);
        assertEquals(1, body.get("images").size());
        JsonNode info = JSON.readTree(body.get("info").asText());
        assertEquals(0.5, info.get("denoising_strength").asDouble());
        assertTrue(info.get("infotexts").get(0).asText().contains("Denoising strength: 0.5"));
        assertTrue(body.get("parameters").get("init_images").isNull(), "init images are not echoed");
    }

    @ParameterizedTest(name = "{0} → 501 naming {1}")
    @CsvSource(delimiter = '|', textBlock = """
            txt2img | {"prompt":"x","enable_hr":true,"hr_scale":2}                  | enable_hr
            txt2img | {"prompt":"x","restore_faces":true}                           | restore_faces
            txt2img | {"prompt":"x","tiling":true}                                  | tiling
            txt2img | {"prompt":"x","subseed":3,"subseed_strength":0.5}             | subseed
            txt2img | {"prompt":"x","styles":["cinematic"]}                         | styles
            txt2img | {"prompt":"x","script_name":"x/y/z plot"}                     | script_name
            txt2img | {"prompt":"x","override_settings":{"CLIP_stop_at_last_layers":2}} | override_settings.CLIP_stop_at_last_layers
            txt2img | {"prompt":"x","scheduler":"Exponential"}                      | scheduler
            img2img | {"prompt":"x","init_images":["a","b"]}                        | init_images
            img2img | {"prompt":"x","init_images":["a"],"mask":"bWFzaw=="}         | mask
            img2img | {"prompt":"x","init_images":["a"],"resize_mode":1}           | resize_mode
            """)
    void fieldsThisServiceDoesNotDoAnswer501NamingThem(String route, String body, String field) {
        given().contentType(ContentType.JSON).body(body).post("/sdapi/v1/" + route)
                .then().statusCode(501).body("error", equalTo("not_supported")).body("field", equalTo(field));
    }

    @ParameterizedTest(name = "{0} → 400 naming {1}")
    @CsvSource(delimiter = '|', textBlock = """
            {"prompt":"x","steps":0}                     | steps          | between 1 and
            {"prompt":"x","cfg_scale":"high"}            | cfg_scale      | must be a number
            {"prompt":"x","width":65}                    | width          | multiple of 8
            {"prompt":"x","sampler_name":"Magic"}        | sampler_name   | must be one of
            {"prompt":"x","seed":-2}                     | seed           | -1 (random)
            {"prompt":"x","batch_size":9}                | batch_size     | between 1 and
            {"prompt":"x","n_iter":0}                    | n_iter         | at least 1
            {"prompt":"x","colour":"red"}                | colour         | not a field
            {"negative_prompt":"x"}                      | prompt         | required
            """)
    void brokenFieldsAnswer400NamingThemAsTheClientSentThem(String body, String field, String message) {
        given().contentType(ContentType.JSON).body(body).post("/sdapi/v1/txt2img")
                .then().statusCode(400).body("field", equalTo(field)).body("message", containsString(message));
    }

    @Test
    void progressFollowsTheRunningGenerationAndInterruptCancelsIt() throws Exception {
        CompletableFuture<String> answer = CompletableFuture.supplyAsync(() -> given().contentType(ContentType.JSON)
                .body("{\"prompt\":\"a long one\",\"steps\":150,\"width\":256,\"height\":256,\"seed\":1}")
                .post("/sdapi/v1/txt2img").then().statusCode(200).extract().asString());
        JsonNode progress = awaitProgress();
        assertEquals(1, progress.get("state").get("job_count").asInt());
        assertEquals(150, progress.get("state").get("sampling_steps").asInt());
        assertTrue(progress.get("progress").asDouble() > 0 && progress.get("progress").asDouble() < 1);
        assertTrue(progress.get("current_image").isTextual(), "the live preview is the current image");
        String job = progress.get("state").get("job").asText();
        given().post("/sdapi/v1/interrupt").then().statusCode(200);
        JsonNode body = JSON.readTree(answer.get(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, body.get("images").size());
        assertTrue(JSON.readTree(body.get("info").asText()).get("interrupted").asBoolean());
        given().get("/v1/jobs/" + job).then().body("status", equalTo("CANCELLED"));
        given().get("/sdapi/v1/progress").then().statusCode(200).body("state.job_count", equalTo(0));
    }

    @Test
    void aClientThatGoesAwayCancelsItsJob() throws Exception {
        byte[] body = "{\"prompt\":\"abandoned\",\"steps\":150,\"width\":256,\"height\":256,\"seed\":2}".getBytes(StandardCharsets.UTF_8);
        String job;
        try (Socket socket = new Socket(base.getHost(), base.getPort())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Authorization: " + TestKeys.bearer() + "\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            job = awaitProgress().get("state").get("job").asText();
        }
        awaitStatus(job, "CANCELLED");
    }

    @Test
    void modelsSamplersAndOptionsUseThatApisShapes() {
        String model = given().get("/v1/models").then().extract().path("models[0].name");
        String hash = given().get("/v1/models").then().extract().path("models[0].hash");
        given().get("/sdapi/v1/sd-models").then().statusCode(200)
                .body("title", hasItem(model + " [" + hash + "]")).body("model_name", hasItem(model));
        given().get("/sdapi/v1/samplers").then().statusCode(200)
                .body("name", hasItem("Euler a")).body("name", hasItem("DPM++ 2M Karras")).body("name", hasItem("DDIM"))
                .body("name", hasItem("PNDM")).body("name", hasItem("LMS"));
        given().get("/sdapi/v1/options").then().statusCode(200)
                .body("sd_model_checkpoint", equalTo(model + " [" + hash + "]"));
        given().contentType(ContentType.JSON).body("{\"sd_model_checkpoint\":\"other\"}").post("/sdapi/v1/options")
                .then().statusCode(501).body("error", equalTo("not_supported"));
    }

    @Test
    void everySamplerNameRunsItsScheduler() throws Exception {
        for (JsonNode sampler : JSON.readTree(given().get("/sdapi/v1/samplers").asString())) {
            JsonNode info = info(given().contentType(ContentType.JSON)
                    .body("{\"prompt\":\"x\",\"steps\":2,\"width\":32,\"height\":32,\"seed\":1,\"sampler_name\":\""
                            + sampler.get("name").asText() + "\"}")
                    .post("/sdapi/v1/txt2img").then().statusCode(200).extract().asString());
            assertTrue(info.get("infotexts").get(0).asText().contains("Sampler: " + sampler.get("name").asText() + ","),
                    sampler + " → " + info.get("infotexts"));
        }
    }

    private static JsonNode info(String answer) throws Exception {
        return JSON.readTree(JSON.readTree(answer).get("info").asText());
    }

    private static List<Long> longs(JsonNode array) {
        List<Long> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asLong()));
        return out;
    }

    private static JsonNode awaitProgress() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode p = JSON.readTree(given().get("/sdapi/v1/progress").asString());
            if (p.get("state").get("sampling_step").asInt() >= 2) {
                return p;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no generation made progress");
    }

    private static void awaitStatus(String id, String status) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        String last = null;
        while (System.nanoTime() < deadline) {
            last = given().get("/v1/jobs/" + id).then().extract().path("status");
            if (status.equals(last)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job " + id + " is " + last + ", never " + status);
    }
}

package io.denoise.api;

import io.denoise.stack.StackTestResource;
import io.minio.ListObjectsArgs;
import io.minio.MinioClient;
import io.minio.Result;
import io.minio.messages.Item;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Base64;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Every request rule answers 400 naming the field, never a 500. */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class JobValidationTest {

    @ConfigProperty(name = "denoise.storage.endpoint")
    String s3Endpoint;

    @ConfigProperty(name = "denoise.storage.access-key")
    String s3AccessKey;

    @ConfigProperty(name = "denoise.storage.secret-key")
    String s3SecretKey;

    private static final String GIF = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==";
    /** A PNG whose header declares 100000 × 100000 pixels. */
    private static final String HUGE_PNG = "iVBORw0KGgoAAAANSUhEUgABhqAAAYagCAIAAAAnMJyfAAAAC0lEQVR4nGNggAEAAAoAAX+AdF4AAAAASUVORK5CYII=";

    @BeforeEach
    void apiKey() {
        TestKeys.useDefault();
    }
    @ParameterizedTest(name = "{0} → 400 on {1}")
    @CsvSource(delimiter = '|', textBlock = """
            {"prompt":"x","model":"no-such-model"}                       | model             | unknown model
            {"prompt":"x","scheduler":"magic"}                          | scheduler         | must be one of
            {"prompt":"x","width":65}                                   | width             | multiple of 8
            {"prompt":"x","width":4096}                                 | width             | multiple of 8 between
            {"prompt":"x","height":8}                                   | height            | multiple of 8 between
            {"prompt":"x","width":"wide"}                               | width             | must be an integer
            {"prompt":"x","numInferenceSteps":0}                        | numInferenceSteps | between 1 and
            {"prompt":"x","numInferenceSteps":100000}                   | numInferenceSteps | between 1 and
            {"prompt":"x","numInferenceSteps":2.5}                      | numInferenceSteps | must be an integer
            {"prompt":"x","guidanceScale":"NaN"}                        | guidanceScale     | must be a number
            {"prompt":"x","guidanceScale":-1}                           | guidanceScale     | between 0 and
            {"prompt":"x","guidanceScale":1e400}                        | guidanceScale     | between 0 and
            {"prompt":"x","seed":-1}                                    | seed              | between 0 and 18446744073709551615
            {"prompt":"x","seed":18446744073709551616}                  | seed              | between 0 and
            {"prompt":"x","seed":"abc"}                                 | seed              | integer
            {"prompt":"x","seed":1.5}                                   | seed              | integer
            {"prompt":"x","numImages":0}                                | numImages         | between 1 and
            {"prompt":"x","numImages":99}                               | numImages         | between 1 and
            {"negativePrompt":"x"}                                      | prompt            | required
            {"prompt":"   "}                                            | prompt            | required
            {"prompt":42}                                               | prompt            | must be a string
            {"prompt":"x","strength":0.5}                               | strength          | only with initImage
            {"prompt":"x","initImage":"%%%not-base64"}                  | initImage         | base64
            {"prompt":"x","initImage":7}                                | initImage         | base64 string
            {"prompt":"x","initImage":"GIF_IMAGE"}                      | initImage         | PNG or JPEG
            {"prompt":"x","initImage":"HUGE_IMAGE"}                     | initImage         | pixels
            {"prompt":"x","initImage":"HUGE_IMAGE","strength":0}        | initImage         | pixels
            {"prompt":"x","eta":2}                                      | eta               | between 0 and 1
            {"prompt":"x","preview":"sometimes"}                        | preview           | must be one of
            {"prompt":"x","previewEvery":0}                             | previewEvery      | between 1 and
            {"prompt":"x","colour":"red"}                               | colour            | not a known field
            {"prompt":"x"                                               | body              | not valid JSON
            [1,2,3]                                                     | body              | JSON object
            {"prompt":"a\\u0000b"}                                      | prompt            | control characters (U+0000
            {"prompt":"x","negativePrompt":"\\u001b[31m"}               | negativePrompt    | control characters (U+001B
            {"prompt":"x","model":"tiny\\u0007"}                        | model             | control characters
            {"prompt":"x","scheduler":"pndm\\u0000"}                    | scheduler         | control characters
            {"prompt":"x","preview":"\\u0085none"}                      | preview           | control characters (U+0085
            {"prompt":"x","seed":"12\\u00003"}                          | seed              | control characters
            {"prompt":"x","initImage":"iVBOR\\u0000w0KGgo"}             | initImage         | control characters
            {"prompt":"a\\ud800b"}                                      | prompt            | unpaired surrogate U+D800
            {"prompt":"a\\udc00"}                                       | prompt            | unpaired surrogate U+DC00
            {"prompt":"x","prompt":"y"}                                 | prompt            | more than once
            {"prompt":"x","width":64,"width":64}                        | width             | more than once
            """)
    void eachRuleAnswers400NamingTheField(String body, String field, String message) {
        String json = body.replace("GIF_IMAGE", GIF).replace("HUGE_IMAGE", HUGE_PNG);
        given().contentType(ContentType.JSON).body(json).post("/v1/jobs").then()
                .statusCode(400)
                .body("error", equalTo("invalid_request"))
                .body("field", equalTo(field))
                .body("message", containsString(message));
    }

    @Test
    void aPromptOverTheLengthLimitIsRefused() {
        String prompt = "a".repeat(2001);
        given().contentType(ContentType.JSON).body("{\"prompt\":\"" + prompt + "\"}").post("/v1/jobs").then()
                .statusCode(400).body("field", equalTo("prompt")).body("message", containsString("at most 2000"));
    }

    @Test
    void anInitImageOverTheByteLimitIsRefused() {
        String big = Base64.getEncoder().encodeToString(new byte[9 * 1024 * 1024 + 1]); // the tests' configured limit
        given().contentType(ContentType.JSON).body("{\"prompt\":\"x\",\"initImage\":\"" + big + "\"}").post("/v1/jobs")
                .then().statusCode(400).body("field", equalTo("initImage")).body("message", containsString("9437184"));
    }

    @Test
    void strengthThatLeavesNoStepIsRefused() {
        given().contentType(ContentType.JSON).body("{\"prompt\":\"x\",\"numInferenceSteps\":2,\"initImage\":\""
                        + TinyPng.BASE64 + "\",\"strength\":0.2}").post("/v1/jobs")
                .then().statusCode(400).body("field", equalTo("strength"));
    }

    @Test
    void listParametersAreValidatedToo() {
        given().get("/v1/jobs?status=done").then().statusCode(400).body("field", equalTo("status"));
        given().get("/v1/jobs?limit=0").then().statusCode(400).body("field", equalTo("limit"));
        given().get("/v1/jobs?cursor=zzz").then().statusCode(400).body("field", equalTo("cursor"));
    }

    @Test
    void textMayHoldTabsLineBreaksAndAnyOtherUnicode() {
        given().contentType(ContentType.JSON)
                .body("{\"prompt\":\"a\\tb\\r\\nc \\u202e\u00e9\ud83d\ude00\",\"numInferenceSteps\":1,\"width\":\"x\"}")
                .post("/v1/jobs").then().statusCode(400).body("field", equalTo("width"));
    }

    @Test
    void aRefusedSubmitLeavesNoInitImageInTheStore() throws Exception {
        long before = initImages();
        given().contentType(ContentType.JSON).body("{\"prompt\":\"a\\u0000b\",\"initImage\":\"" + TinyPng.BASE64 + "\"}")
                .post("/v1/jobs").then().statusCode(400).body("field", equalTo("prompt"));
        given().contentType(ContentType.JSON).body("{\"prompt\":\"x\",\"initImage\":\"" + TinyPng.BASE64
                        + "\",\"eta\":5}").post("/v1/jobs").then().statusCode(400).body("field", equalTo("eta"));
        assertEquals(before, initImages());
    }

    private long initImages() throws Exception {
        MinioClient s3 = MinioClient.builder().endpoint(s3Endpoint).credentials(s3AccessKey, s3SecretKey).build();
        long n = 0;
        for (Result<Item> item : s3.listObjects(ListObjectsArgs.builder().bucket("denoise").prefix("tenants/").recursive(true).build())) {
            if (item.get().objectName().endsWith("/init")) {
                n++;
            }
        }
        return n;
    }

    @Test
    void oddPathAndQueryValuesAreClientErrors() {
        given().get("/v1/jobs?limit=abc").then().statusCode(400).body("field", equalTo("limit"));
        given().get("/v1/jobs?limit=99999999999999999999").then().statusCode(400).body("field", equalTo("limit"));
        given().get("/v1/jobs/" + java.util.UUID.randomUUID() + "/images/abc").then().statusCode(404).body("error", equalTo("not_found"));
        given().get("/v1/jobs/" + java.util.UUID.randomUUID() + "/images/99999999999").then().statusCode(404);
        given().header("Last-Event-ID", "99999999999999999999999").get("/v1/jobs/" + java.util.UUID.randomUUID() + "/events")
                .then().statusCode(400).body("field", equalTo("Last-Event-ID"));
        given().contentType(ContentType.TEXT).body("x").post("/v1/jobs").then().statusCode(415).body("error", equalTo("unsupported_media_type"));
    }

    @Test
    void anOverlongIdempotencyKeyIsRefused() {
        given().contentType(ContentType.JSON).header("Idempotency-Key", "k".repeat(256)).body("{\"prompt\":\"x\"}")
                .post("/v1/jobs").then().statusCode(400).body("field", equalTo("Idempotency-Key"));
    }
}

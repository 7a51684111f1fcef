package io.denoise.api;

import io.denoise.images.Png;
import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Base64;
import java.util.Map;
import java.util.SplittableRandom;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The request limits are configured once ({@code denoise.limits.*}) and read by the API and the worker alike: the
 * tests raise the init-image limit to 9 MiB, above the worker's former fixed 8 MiB, and an upload between the two
 * must run to SUCCEEDED rather than be accepted by the API and then failed by every worker.
 */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class UploadLimitsTest {

    /** A PNG of noise (which deflate cannot shrink) of {@code side × side} pixels. */
    static byte[] noisePng(int side) {
        byte[] rgb = new byte[side * side * 3];
        new SplittableRandom(7).nextBytes(rgb);
        return Png.encode(side, side, rgb, Map.of());
    }

    @BeforeEach
    void apiKey() {
        TestKeys.useDefault();
    }
    @Test
    void anUploadTheApiAcceptsTheWorkerRunsToo() throws Exception {
        byte[] png = noisePng(1700);
        assertTrue(png.length > 8 << 20 && png.length < 9 << 20, "between 8 and 9 MiB: " + png.length);
        String id = JobServiceTest.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2,\"strength\":1.0,"
                + "\"initImage\":\"" + Base64.getEncoder().encodeToString(png) + "\"}");
        assertEquals("SUCCEEDED", JobServiceTest.awaitStatus(id, "SUCCEEDED").path("status"));
    }

    @Test
    void anUploadOverTheConfiguredLimitIsRefusedNamingIt() {
        byte[] png = noisePng(1800);
        assertTrue(png.length > 9 << 20, "over 9 MiB: " + png.length);
        given().contentType(ContentType.JSON).body("{\"prompt\":\"x\",\"initImage\":\""
                        + Base64.getEncoder().encodeToString(png) + "\"}").post("/v1/jobs")
                .then().statusCode(400).body("field", org.hamcrest.Matchers.equalTo("initImage"))
                .body("message", org.hamcrest.Matchers.containsString("9437184"));
    }
}

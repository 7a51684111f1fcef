package io.denoise.api;

import io.denoise.images.PngTest;
import io.denoise.messaging.JobEvent;
import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.imageio.ImageIO;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Sweeps on the real stack: validation per axis, fan-out into jobs, the grid, cancellation, the event stream. */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class SweepTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(90);

    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    @TestHTTPResource("/")
    URL root;

    static Response submit(String body) {
        return given().contentType(ContentType.JSON).body(body).post("/v1/sweeps");
    }

    static Response awaitEnded(String id) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        Response r;
        do {
            r = given().get("/v1/sweeps/" + id);
            if ((int) r.path("progress.cellsDone") == (int) r.path("progress.cells")) {
                return r;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("sweep " + id + " did not end: " + r.asString());
    }

    /** The grid, once drawn. */
    static byte[] awaitGrid(String id) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        do {
            Response r = given().get("/v1/sweeps/" + id + "/grid");
            if (r.statusCode() == 200) {
                assertEquals("image/png", r.contentType());
                return r.asByteArray();
            }
            assertEquals(409, r.statusCode(), r.asString());
            assertEquals("not_ready", r.path("error"));
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("no grid for sweep " + id);
    }

    static BufferedImage decode(byte[] png) throws Exception {
        return ImageIO.read(new ByteArrayInputStream(png));
    }

    @BeforeEach
    void apiKey() {
        TestKeys.useDefault();
    }
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"x\":{\"field\":\"guidanceScale\",\"values\":[1]}}                                     | base       | is required",
            "{\"base\":{},\"x\":{\"field\":\"guidanceScale\",\"values\":[1]}}                         | base.prompt | is required",
            "{\"base\":{\"prompt\":\"x\"}}                                                           | x          | is required",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"width\",\"values\":[32]}}               | x.field    | must be one of",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"guidanceScale\",\"values\":[]}}         | x.values   | non-empty",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"guidanceScale\",\"values\":[1,\"2\"]}}  | x.values[1] | must be a number",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"guidanceScale\",\"values\":[1,99]}}     | x.values[1] | guidanceScale must be a number between 0 and 50",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"guidanceScale\",\"values\":[1,1]}}      | x.values[1] | repeats",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"scheduler\",\"values\":[\"ddim\",\"magic\"]}} | x.values[1] | scheduler must be one of",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"seed\",\"values\":[1]},\"y\":{\"field\":\"numInferenceSteps\",\"values\":[2,0]}} | y.values[1] | between 1 and",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"seed\",\"values\":[1]},\"y\":{\"field\":\"seed\",\"values\":[2]}} | y.field | must differ",
            "{\"base\":{\"prompt\":\"a red circle\"},\"x\":{\"field\":\"prompt\",\"values\":[\"blue\",\"green\"]}} | x.values[0] | must appear in base.prompt",
            "{\"base\":{\"prompt\":\"x\",\"width\":33},\"x\":{\"field\":\"seed\",\"values\":[1,2]}}   | base.width | multiple of 8",
            "{\"base\":{\"prompt\":\"x\",\"colour\":1},\"x\":{\"field\":\"seed\",\"values\":[1,2]}}   | base.colour | not a known field",
            "{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"strength\",\"values\":[0.5]}}           | x.values[0] | strength applies only with initImage",
    })
    void everyCellIsCheckedUpFrontNamingTheAxisValue(String body, String field, String message) {
        submit(body).then().statusCode(400).body("field", equalTo(field)).body("message", containsString(message));
    }

    @Test
    void moreCellsThanTheLimitAreRefused() {
        StringBuilder values = new StringBuilder();
        for (int i = 0; i < 9; i++) {
            values.append(i == 0 ? "" : ",").append(i + 1);
        }
        String newest = given().get("/v1/jobs?limit=1").path("jobs[0].id");
        submit("{\"base\":{\"prompt\":\"x\"},\"x\":{\"field\":\"seed\",\"values\":[" + values + "]},"
                + "\"y\":{\"field\":\"numInferenceSteps\",\"values\":[1,2,3,4,5,6,7,8]}}")
                .then().statusCode(400).body("field", equalTo("y.values")).body("message", containsString("72 cells"));
        assertEquals(newest, given().get("/v1/jobs?limit=1").path("jobs[0].id"), "nothing was queued");
    }

    @Test
    void aSweepFansOutIntoJobsAndItsGridLaysThemOutInAxisOrder() throws Exception {
        Response accepted = submit("{\"base\":{\"prompt\":\"a red circle\",\"numInferenceSteps\":2,\"seed\":\"5\"},"
                + "\"x\":{\"field\":\"guidanceScale\",\"values\":[1,4]},\"y\":{\"field\":\"seed\",\"values\":[\"5\",\"6\",\"7\"]}}");
        accepted.then().statusCode(202).header("Location", containsString("/v1/sweeps/"))
                .body("cells.size()", equalTo(6)).body("progress.cells", equalTo(6));
        String id = accepted.path("id");
        Response done = awaitEnded(id);
        assertEquals("SUCCEEDED", done.path("status"), done.asString());
        assertEquals(6, (int) done.path("cellCounts.SUCCEEDED"));
        for (int cell = 0; cell < 6; cell++) {
            String jobId = done.path("cells[" + cell + "].jobId");
            Response job = given().get("/v1/jobs/" + jobId);
            assertEquals(List.of(1.0f, 4.0f).get(cell % 2), job.path("parameters.guidanceScale"), "column " + cell % 2);
            assertEquals(5 + cell / 2, (int) job.path("parameters.seed"), "row " + cell / 2);
            assertEquals("/v1/sweeps/" + id, job.path("links.sweep"), "a cell links to its sweep");
            assertEquals(cell % 2, (int) done.path("cells[" + cell + "].column"));
            assertEquals(cell / 2, (int) done.path("cells[" + cell + "].row"));
        }
        byte[] grid = awaitGrid(id);
        Map<String, String> chunks = PngTest.textChunks(grid);
        String plan = chunks.get("tEXt:sweep");
        assertTrue(plan.contains("\"x\":{\"field\":\"guidanceScale\",\"values\":[1,4]}"), plan);
        assertTrue(plan.contains("\"y\":{\"field\":\"seed\""), plan);
        assertTrue(plan.contains("\"prompt\":\"a red circle\""), plan);
        // each cell's image sits in the grid: the grid holds two columns and three rows of cell-sized images
        BufferedImage cellImage = decode(given().get("/v1/jobs/" + done.path("cells[0].jobId") + "/images/0").asByteArray());
        BufferedImage g = decode(grid);
        assertTrue(g.getWidth() >= 2 * cellImage.getWidth() && g.getHeight() >= 3 * cellImage.getHeight(),
                g.getWidth() + "x" + g.getHeight());
        assertEquals("ready", given().get("/v1/sweeps/" + id).path("grid.status"));
    }

    @Test
    void aSweepsCellsRunTogetherInTheWorkersBatch() throws Exception {
        try (EventsTap tap = new EventsTap(bootstrap)) {
            Response accepted = submit("{\"base\":{\"prompt\":\"a red circle\",\"numInferenceSteps\":30},"
                    + "\"x\":{\"field\":\"guidanceScale\",\"values\":[1,4]}}");
            String id = accepted.then().statusCode(202).extract().path("id");
            List<List<JobEvent>> cells = new ArrayList<>();
            for (int cell = 0; cell < 2; cell++) {
                cells.add(tap.untilTerminal(UUID.fromString(accepted.path("cells[" + cell + "].jobId")), TIMEOUT));
            }
            assertEquals("SUCCEEDED", awaitEnded(id).path("status"));
            // each cell's steps began before the other's ended: one job at a time cannot do that
            for (int cell = 0; cell < 2; cell++) {
                Instant firstStep = cells.get(cell).stream().filter(e -> e.type().equals(JobEvent.PROGRESS)).findFirst()
                        .orElseThrow().at();
                List<JobEvent> other = cells.get(1 - cell);
                assertTrue(firstStep.isBefore(other.get(other.size() - 1).at()), "cell " + cell + " waited: " + cells);
            }
        }
    }

    @Test
    void anyCellRegeneratedAloneAsAPlainJobGivesTheSamePixels() throws Exception {
        Response accepted = submit("{\"base\":{\"prompt\":\"a red circle\",\"numInferenceSteps\":3},"
                + "\"x\":{\"field\":\"negativePrompt\",\"values\":[\"\",\"blue\"]}}");
        String id = accepted.then().statusCode(202).extract().path("id");
        Response done = awaitEnded(id);
        String seed = done.path("base.seed");
        String cellJob = done.path("cells[1].jobId");
        byte[] cell = given().get("/v1/jobs/" + cellJob + "/images/0").asByteArray();
        String alone = JobServiceTest.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":3,"
                + "\"negativePrompt\":\"blue\",\"seed\":\"" + seed + "\"}");
        JobServiceTest.awaitStatus(alone, "SUCCEEDED");
        byte[] plain = given().get("/v1/jobs/" + alone + "/images/0").asByteArray();
        BufferedImage a = decode(cell);
        BufferedImage b = decode(plain);
        assertArrayEquals(a.getRGB(0, 0, a.getWidth(), a.getHeight(), null, 0, a.getWidth()),
                b.getRGB(0, 0, b.getWidth(), b.getHeight(), null, 0, b.getWidth()));
        assertEquals(PngTest.textChunks(cell).get("tEXt:parameters"), PngTest.textChunks(plain).get("tEXt:parameters"),
                "the cell's PNG keeps its own recipe");
    }

    @Test
    void aStrengthSweepSharesOneUploadedInitImage() throws Exception {
        Response accepted = submit("{\"base\":{\"prompt\":\"a red circle\",\"numInferenceSteps\":4,\"initImage\":\""
                + TinyPng.BASE64 + "\"},\"x\":{\"field\":\"strength\",\"values\":[0.5,1.0]}}");
        String id = accepted.then().statusCode(202).body("base.initImage", org.hamcrest.Matchers.nullValue())
                .extract().path("id");
        Response done = awaitEnded(id);
        assertEquals("SUCCEEDED", done.path("status"), done.asString());
        for (int cell = 0; cell < 2; cell++) {
            Response job = given().get("/v1/jobs/" + done.path("cells[" + cell + "].jobId"));
            assertEquals(true, job.path("parameters.initImage"));
            assertEquals(List.of(0.5f, 1.0f).get(cell), job.path("parameters.strength"));
            assertEquals(List.of(2, 4).get(cell), job.path("progress.totalSteps"), "strength cuts the schedule");
        }
    }

    @Test
    void cancellingASweepCancelsTheCellsStillToRunAndTheGridMarksThem() throws Exception {
        Response accepted = submit("{\"base\":{\"prompt\":\"a red circle\",\"numInferenceSteps\":60,\"numImages\":4},"
                + "\"x\":{\"field\":\"seed\",\"values\":[1,2,3,4]}}");
        String id = accepted.then().statusCode(202).extract().path("id");
        given().delete("/v1/sweeps/" + id).then().statusCode(202);
        Response done = awaitEnded(id);
        assertTrue((int) done.path("cellCounts.CANCELLED") >= 3, done.asString());
        assertEquals("CANCELLED", done.path("status"));
        given().delete("/v1/sweeps/" + id).then().statusCode(409).body("error", equalTo("already_finished"));
        BufferedImage grid = decode(awaitGrid(id));
        assertTrue(grid.getWidth() > 0);
    }

    @Test
    void theSweepStreamRelaysEveryCellsEventsAndEnds() throws Exception {
        Response accepted = submit("{\"base\":{\"prompt\":\"a red circle\",\"numInferenceSteps\":2},"
                + "\"x\":{\"field\":\"eta\",\"values\":[0,0.5,1]},\"y\":{\"field\":\"scheduler\",\"values\":[\"ddim\"]}}");
        String id = accepted.then().statusCode(202).extract().path("id");
        HttpRequest request = HttpRequest.newBuilder(URI.create(root + "v1/sweeps/" + id + "/events"))
                .header("Accept", "text/event-stream").header("Authorization", TestKeys.bearer())
                .timeout(Duration.ofSeconds(90)).build();
        HttpResponse<InputStream> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, response.statusCode());
        List<String> names = new ArrayList<>();
        List<String> data = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.startsWith("event:")) {
                    names.add(line.substring(6).trim());
                } else if (line.startsWith("data:")) {
                    data.add(line.substring(5).trim());
                }
            }
        }
        assertEquals(3, names.stream().filter("succeeded"::equals).count(), names.toString());
        assertEquals("ended", names.get(names.size() - 1), names.toString());
        assertTrue(data.get(data.size() - 1).contains("\"status\":\"SUCCEEDED\""), data.get(data.size() - 1));
        for (int cell = 0; cell < 3; cell++) {
            int c = cell;
            assertTrue(data.stream().anyMatch(d -> d.contains("\"type\":\"succeeded\"") && d.contains("\"cell\":" + c)),
                    "cell " + c + "'s end relayed");
        }
    }

    @Test
    void aJobsImagesLaidOutInOneGrid() throws Exception {
        String id = JobServiceTest.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":2,\"numImages\":3,\"seed\":\"9\"}");
        JobServiceTest.awaitStatus(id, "SUCCEEDED");
        Response r = given().get("/v1/jobs/" + id + "/grid");
        assertEquals(200, r.statusCode(), r.asString());
        byte[] png = r.asByteArray();
        String job = PngTest.textChunks(png).get("tEXt:job");
        assertTrue(job.contains("\"seed\":9") && job.contains("\"numImages\":3"), job);
        BufferedImage one = decode(given().get("/v1/jobs/" + id + "/images/0").asByteArray());
        BufferedImage grid = decode(png);
        assertTrue(grid.getWidth() >= 2 * one.getWidth() && grid.getHeight() >= 2 * one.getHeight(),
                "three images in two columns and two rows: " + grid.getWidth() + "x" + grid.getHeight());
        String cancelled = JobServiceTest.submit("{\"prompt\":\"a red circle\",\"numInferenceSteps\":150,\"numImages\":4}");
        given().delete("/v1/jobs/" + cancelled);
        JobServiceTest.awaitStatus(cancelled, "CANCELLED");
        given().get("/v1/jobs/" + cancelled + "/grid").then().statusCode(409).body("error", equalTo("not_succeeded"));
    }
}

package io.denoise.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.recipe.RequestRules;
import io.denoise.stack.StackTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URL;
import java.util.Set;
import java.util.TreeSet;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The served OpenAPI document describes the API as it behaves: the request's fields and rules, every answer. */
@QuarkusTest
@QuarkusTestResource(StackTestResource.class)
class OpenApiDocumentTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private JsonNode doc;

    @TestHTTPResource(value = "/", management = true)
    URL management;

    @BeforeEach
    void apiKey() {
        TestKeys.useDefault();
    }
    @BeforeEach
    void load() throws Exception {
        doc = JSON.readTree(given().accept(ContentType.JSON).get(ManagementPort.url(management, "/q/openapi?format=json")).then().statusCode(200)
                .extract().asString());
    }

    private JsonNode schema(String name) {
        return doc.path("components").path("schemas").path(name);
    }

    private JsonNode operation(String path, String method) {
        JsonNode op = doc.path("paths").path(path).path(method);
        assertTrue(op.isObject(), method + " " + path + " is documented");
        return op;
    }

    @Test
    void theSubmitBodyIsTheTypedRequestWithEveryFieldTheValidatorKnows() {
        JsonNode body = operation("/v1/jobs", "post").path("requestBody").path("content").path("application/json").path("schema");
        assertEquals("#/components/schemas/JobRequest", body.path("$ref").asText());
        JsonNode request = schema("JobRequest");
        Set<String> documented = new TreeSet<>();
        request.path("properties").fieldNames().forEachRemaining(documented::add);
        assertEquals(new TreeSet<>(JobRequestValidator.FIELDS), documented);
        assertEquals("prompt", request.path("required").get(0).asText());
        request.path("properties").forEach(p -> assertTrue(p.path("description").asText().length() > 10, p.toString()));
        assertEquals("integer", request.at("/properties/width/type").asText());
        assertEquals(8, request.at("/properties/width/multipleOf").asInt());
        assertEquals(50, request.at("/properties/guidanceScale/maximum").asInt());
        assertEquals(1, request.at("/properties/strength/maximum").asInt());
        assertEquals("none", request.at("/properties/preview/default").asText());
        assertEquals(new TreeSet<>(RequestRules.PREVIEWS), strings(request.at("/properties/preview/enum")));
        assertEquals(RequestRules.MAX_SEED.toString().length(), request.at("/properties/seed/maxLength").asInt());
    }

    @Test
    void theSchedulerEnumIsWhatTheModelsServe() throws Exception {
        JsonNode models = JSON.readTree(given().get("/v1/models").asString()).path("models");
        Set<String> served = new TreeSet<>();
        models.forEach(m -> m.path("schedulers").forEach(s -> served.add(s.asText())));
        assertEquals(served, strings(schema("JobRequest").at("/properties/scheduler/enum")));
    }

    @Test
    void submitDocumentsEveryAnswerItGives() {
        JsonNode responses = operation("/v1/jobs", "post").path("responses");
        assertEquals("#/components/schemas/JobView", responses.at("/202/content/application~1json/schema/$ref").asText());
        assertTrue(responses.at("/202/headers/Location").isObject());
        for (String code : new String[] {"400", "409", "503"}) {
            assertEquals("#/components/schemas/ErrorBody", responses.at("/" + code + "/content/application~1json/schema/$ref").asText(), code);
        }
        assertTrue(responses.at("/503/headers/Retry-After").isObject());
        JsonNode cancel = operation("/v1/jobs/{id}", "delete").path("responses");
        for (String code : new String[] {"200", "202", "404", "409", "503"}) {
            assertTrue(cancel.has(code), "cancel documents " + code);
        }
        assertTrue(operation("/v1/jobs/{id}", "get").path("responses").has("404"));
        assertEquals("binary", operation("/v1/jobs/{id}/images/{index}", "get").at("/responses/200/content/image~1png/schema/format").asText());
    }

    @Test
    void theEventStreamDocumentsItsEventTypes() {
        JsonNode events = operation("/v1/jobs/{id}/events", "get");
        String description = events.path("description").asText();
        for (String type : new String[] {"started", "progress", "image", "succeeded", "failed", "cancelled", "Last-Event-ID"}) {
            assertTrue(description.contains(type), type);
        }
        assertTrue(events.at("/responses/200/content").has("text/event-stream"));
        assertTrue(events.path("responses").has("429"));
    }

    @Test
    void theRequestExamplesRun() {
        JsonNode examples = operation("/v1/jobs", "post").at("/requestBody/content/application~1json/examples");
        assertTrue(examples.size() >= 2);
        examples.forEach(example -> given().contentType(ContentType.JSON)
                .body(example.path("value").isTextual() ? example.path("value").asText() : example.path("value").toString())
                .post("/v1/jobs").then().statusCode(202));
        JsonNode sdExample = operation("/sdapi/v1/txt2img", "post").at("/requestBody/content/application~1json/examples");
        sdExample.forEach(example -> given().contentType(ContentType.JSON)
                .body(example.path("value").isTextual() ? example.path("value").asText() : example.path("value").toString())
                .post("/sdapi/v1/txt2img").then().statusCode(200));
    }

    @Test
    void everyOperationHasAnIdASummaryAndAnErrorAnswer() {
        doc.path("paths").forEach(path -> path.forEach(op -> {
            assertTrue(op.path("operationId").isTextual(), op.toString());
            assertTrue(op.path("summary").isTextual(), op.toString());
        }));
    }

    private static Set<String> strings(JsonNode array) {
        Set<String> out = new TreeSet<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}

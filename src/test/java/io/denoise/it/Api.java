package io.denoise.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Predicate;

/** A minimal client of the service's HTTP API for process-level tests. */
final class Api {

    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final AppProcess app;

    Api(AppProcess app) {
        this.app = app;
    }

    /**
     * A submit's answer as a client saw it: the HTTP status (or -1 when no answer came: connection refused or
     * reset, or no answer within the timeout), the job id of a 202, the {@code Retry-After} header, and how long
     * the request took.
     */
    record Submitted(Instant at, int status, String id, Optional<String> retryAfter, Duration took, String detail) {

        boolean accepted() {
            return status == 202;
        }

        /** A 503 that tells the client when to come back. */
        boolean rejectedWithRetryAfter() {
            return status == 503 && retryAfter.isPresent();
        }

        boolean timedOut() {
            return detail.startsWith("no answer within");
        }

        @Override
        public String toString() {
            return (status == -1 ? "no answer" : Integer.toString(status)) + " after " + took.toMillis() + " ms"
                    + retryAfter.map(r -> ", Retry-After " + r).orElse("") + (detail.isEmpty() ? "" : ": " + detail);
        }
    }

    /**
     * Submits a job and reports whatever happened, never throwing: for the fault tests, where a 503 or no
     * answer at all is an outcome to check rather than an error.
     *
     * @param timeout how long to wait for the answer (the request is abandoned after that)
     */
    Submitted trySubmit(String body, Duration timeout) {
        Instant at = Instant.now();
        long t0 = System.nanoTime();
        try {
            HttpResponse<String> r = HTTP.send(app.request("/v1/jobs").timeout(timeout)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            String id = r.statusCode() == 202 ? JSON.readTree(r.body()).get("id").asText() : null;
            String detail = r.statusCode() == 202 ? "" : r.body().substring(0, Math.min(200, r.body().length()));
            return new Submitted(at, r.statusCode(), id, r.headers().firstValue("Retry-After"), took, detail);
        } catch (HttpTimeoutException e) {
            return new Submitted(at, -1, null, Optional.empty(), Duration.ofNanos(System.nanoTime() - t0),
                    "no answer within " + timeout.toSeconds() + " s");
        } catch (IOException e) {
            return new Submitted(at, -1, null, Optional.empty(), Duration.ofNanos(System.nanoTime() - t0), e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Submitted(at, -1, null, Optional.empty(), Duration.ofNanos(System.nanoTime() - t0), "interrupted");
        }
    }

    /**
     * @return the job as the API shows it, or empty when the API does not answer with it (down, or a 5xx while
     *     its database is down)
     */
    Optional<JsonNode> tryJob(String id) {
        try {
            HttpResponse<String> r = HTTP.send(app.request("/v1/jobs/" + id).timeout(Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? Optional.of(JSON.readTree(r.body())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /**
     * Fetches one image of a job through the API.
     *
     * @return the HTTP status and the body
     */
    HttpResponse<byte[]> image(String id, int index) throws IOException, InterruptedException {
        return HTTP.send(app.request("/v1/jobs/" + id + "/images/" + index).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** Submits a job and returns its id. */
    String submit(String body) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(app.request("/v1/jobs")
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 202) {
            throw new AssertionError("submit answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body()).get("id").asText();
    }

    /** POSTs JSON to a path and returns the answer's body as JSON, failing unless the answer is a 202. */
    JsonNode post(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(app.request(path)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 202) {
            throw new AssertionError("POST " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    /** GETs a path and returns the answer's body as JSON. */
    JsonNode get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(app.request(path).build(), HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(r.body());
    }

    JsonNode job(String id) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(app.request("/v1/jobs/" + id).build(),
                HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(r.body());
    }

    /** Polls the job until {@code condition} holds. */
    JsonNode await(String id, Predicate<JsonNode> condition, Duration timeout, String what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode job;
        do {
            job = job(id);
            if (condition.test(job)) {
                return job;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("job " + id + " never " + what + ": " + job);
    }

    JsonNode awaitStatus(String id, String status, Duration timeout) throws Exception {
        return await(id, j -> status.equals(j.path("status").asText()), timeout, "reached " + status);
    }
}

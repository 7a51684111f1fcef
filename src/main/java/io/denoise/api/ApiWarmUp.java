package io.denoise.api;

import io.denoise.Roles;
import io.denoise.Threads;
import io.denoise.auth.ApiKeys;
import io.denoise.auth.Caller;
import io.denoise.auth.Scope;
import io.denoise.jobs.Priority;
import io.denoise.jobs.SubmitBatcher;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Default;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Warms a new API process up before it reports ready: {@code denoise.api.warm-up-requests} submits over loopback,
 * through the whole HTTP, authentication, validation and storage path, each followed by a read of its job. A new
 * JVM answers its first requests in up to a second (classes loaded, connections opened, code still interpreted).
 * Measured on two cores at 250 submits/s from the first request after ready, the p99 of the first 20 s was 837 ms
 * without a warm-up and 26–71 ms after the default 1000 rehearsals, which take about 9 s.
 *
 * <p>The warm-up's requests carry a key made for it alone ({@link ApiKeys#ephemeral}: random, in this replica's
 * memory, accepted only while the warm-up runs) of the tenant {@link SubmitBatcher#REHEARSAL_TENANT}, whose submits
 * are rolled back: nothing is stored, queued, charged or counted. The readiness check {@code api-warm-up} is down
 * until it ends; it ends early, ready, at the first answer that says the service cannot take jobs now (5xx) or the
 * first request that gets no answer, so a database away keeps no replica out of service for longer than one
 * request.
 */
@Readiness
@Default // injectable as itself (the tests run it), not only as a readiness check
@ApplicationScoped
public class ApiWarmUp implements HealthCheck {

    private static final Logger LOG = Logger.getLogger(ApiWarmUp.class);
    private static final int CONNECTIONS = 32;
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration LISTENING_WAIT = Duration.ofSeconds(30);
    private static final int UNKNOWN_KEY_EVERY = 10;
    private static final Caller CALLER = new Caller(new UUID(0, 0), SubmitBatcher.REHEARSAL_TENANT, Set.of(Scope.JOBS),
            Priority.NORMAL);

    /** What a warm-up did: answers by status, how long it took, and why it stopped early (empty if it did not). */
    record Report(Map<Integer, Integer> answers, long millis, Optional<String> stoppedBecause) {
    }

    @Inject
    Roles roles;

    @Inject
    ApiConfig config;

    @Inject
    ApiKeys keys;

    private volatile String key;
    private volatile boolean done;
    private volatile Report report;

    void start(@Observes StartupEvent event) {
        if (!roles.api() || config.warmUpRequests() <= 0) {
            done = true;
            return;
        }
        Threads.daemon("api-warm-up").newThread(() -> {
            try {
                report = run(awaitListening(), config.warmUpRequests());
                LOG.infof("warmed up with %d submits in %d ms: answers %s%s", config.warmUpRequests(), report.millis(),
                        report.answers(), report.stoppedBecause().map(r -> "; stopped early: " + r).orElse(""));
            } catch (RuntimeException e) {
                LOG.warnf(e, "the warm-up failed; ready without it");
            } finally {
                done = true;
            }
        }).start();
    }

    /**
     * Sends {@code requests} rehearsed submits to the API at {@code base}, each followed by a read of the job it
     * answered; the warm-up's key is accepted only while this runs.
     */
    Report run(URI base, int requests) {
        key = keys.ephemeral(CALLER);
        long start = System.nanoTime();
        Map<Integer, Integer> answers = new ConcurrentHashMap<>();
        AtomicReference<String> stopped = new AtomicReference<>();
        AtomicInteger next = new AtomicInteger();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(REQUEST_TIMEOUT).build();
        ExecutorService pool = Executors.newFixedThreadPool(CONNECTIONS, Threads.daemon("api-warm-up-request"));
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < CONNECTIONS; c++) {
                running.add(pool.submit(() -> {
                    int i;
                    while (stopped.get() == null && (i = next.getAndIncrement()) < requests) {
                        String problem = exchange(http, base, i, answers);
                        if (problem != null) {
                            stopped.compareAndSet(null, problem);
                        }
                    }
                }));
            }
            for (Future<?> f : running) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped.compareAndSet(null, "interrupted");
        } catch (ExecutionException e) {
            stopped.compareAndSet(null, e.getCause().toString());
        } finally {
            keys.forget(key);
            key = null;
            pool.shutdownNow();
        }
        return new Report(new TreeMap<>(answers), (System.nanoTime() - start) / 1_000_000, Optional.ofNullable(stopped.get()));
    }

    /**
     * One submit and, if it was accepted, a read of its job; a reason to stop, or null to go on. Every
     * {@value #UNKNOWN_KEY_EVERY}th carries a key that does not exist (a 401), so the key's look-up in the database
     * is warm too: the first request of every real key takes it.
     */
    private String exchange(HttpClient http, URI base, int i, Map<Integer, Integer> answers) {
        String body = "{\"prompt\":\"a warm-up " + i + "\",\"numInferenceSteps\":1,\"seed\":" + i + "}";
        String presented = i % UNKNOWN_KEY_EVERY == UNKNOWN_KEY_EVERY - 1
                ? ApiKeys.PREFIX + "warm-up-unknown-" + UUID.randomUUID() : key;
        HttpRequest.Builder submit = HttpRequest.newBuilder(base.resolve("/v1/jobs")).timeout(REQUEST_TIMEOUT)
                .header("Authorization", "Bearer " + presented).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (i % 2 == 1) {
            submit.header("Idempotency-Key", "warm-up-" + i);
        }
        try {
            HttpResponse<String> answer = http.send(submit.build(), HttpResponse.BodyHandlers.ofString());
            answers.merge(answer.statusCode(), 1, Integer::sum);
            if (answer.statusCode() >= 500) {
                return "POST /v1/jobs answered " + answer.statusCode() + ": " + answer.body();
            }
            Optional<String> location = answer.headers().firstValue("Location");
            if (location.isPresent()) {
                // the job was rolled back: the read takes the path of a job that is not there
                http.send(HttpRequest.newBuilder(base.resolve(location.get())).timeout(REQUEST_TIMEOUT)
                        .header("Authorization", "Bearer " + key).GET().build(), HttpResponse.BodyHandlers.discarding());
            }
            return null;
        } catch (IOException e) {
            return "POST /v1/jobs got no answer: " + e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** The key of the warm-up running now, or null: for tests. */
    String key() {
        return key;
    }

    /**
     * This process's own HTTP interface (over loopback where it listens on every address), once it accepts
     * connections: startup observers may run before the server listens, or before a random port is known.
     */
    private static URI awaitListening() {
        long deadline = System.nanoTime() + LISTENING_WAIT.toNanos();
        while (true) {
            String host = ConfigProvider.getConfig().getOptionalValue("quarkus.http.host", String.class).orElse("0.0.0.0");
            if (host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]")) {
                host = "127.0.0.1";
            }
            int port = ConfigProvider.getConfig().getOptionalValue("quarkus.http.port", Integer.class).orElse(8080);
            if (port > 0) {
                try (Socket probe = new Socket()) {
                    probe.connect(new InetSocketAddress(host, port), 1000);
                    return URI.create("http://" + (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host)
                            + ":" + port);
                } catch (IOException e) {
                    // not listening yet
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("the HTTP interface did not accept connections within " + LISTENING_WAIT);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the HTTP interface", e);
            }
        }
    }

    @Override
    public HealthCheckResponse call() {
        Report r = report;
        var response = HealthCheckResponse.named("api-warm-up").status(done);
        if (r != null) {
            response.withData("answers", r.answers().toString()).withData("millis", r.millis());
            r.stoppedBecause().ifPresent(reason -> response.withData("stoppedEarly", reason));
        }
        return response.build();
    }
}

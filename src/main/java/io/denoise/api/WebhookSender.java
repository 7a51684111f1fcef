package io.denoise.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.Roles;
import io.denoise.Threads;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobStore;
import io.denoise.webhooks.WebhookConfig;
import io.denoise.webhooks.WebhookDeliveries;
import io.denoise.webhooks.WebhookSecrets;
import io.denoise.webhooks.WebhookSignature;
import io.denoise.webhooks.WebhookTarget;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Sends the webhook deliveries due, from every API replica: each takes a few at a time from PostgreSQL (one per job,
 * the first of its job still to go), posts them signed as Standard Webhooks says ({@code webhook-id},
 * {@code webhook-timestamp}, {@code webhook-signature}), and records the answer. A 2xx ends the delivery; anything
 * else is tried again after an exponential backoff with jitter, until {@code denoise.webhooks.retry-for} from the
 * event. Redirects are not followed, and the target's addresses are checked again before every try.
 */
@ApplicationScoped
public class WebhookSender {

    private static final Logger LOG = Logger.getLogger(WebhookSender.class);

    @Inject
    Roles roles;

    @Inject
    WebhookConfig config;

    @Inject
    WebhookDeliveries deliveries;

    @Inject
    WebhookSecrets secrets;

    @Inject
    JobStore jobs;

    @Inject
    ObjectMapper json;

    @Inject
    MeterRegistry metrics;

    private ScheduledExecutorService poller;
    private ExecutorService senders;
    private HttpClient http;

    void start(@Observes StartupEvent event) {
        if (!roles.api()) {
            return;
        }
        senders = Executors.newFixedThreadPool(config.concurrency(), Threads.daemon("webhook"));
        http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).connectTimeout(config.timeout()).build();
        poller = Threads.scheduled("webhook-poll");
        poller.scheduleWithFixedDelay(this::round, config.poll().toMillis(), config.poll().toMillis(), TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (poller != null) {
            poller.shutdownNow();
            senders.shutdownNow();
        }
    }

    /**
     * Sends what is due; goes straight on while each round found work, so a job's backlog drains without waits. A
     * round waits for its tries at most {@link #tryLimit()} each, so one slow receiver never holds the others up.
     */
    private void round() {
        try {
            List<WebhookDeliveries.Due> due;
            do {
                due = deliveries.take(config.concurrency(), lease());
                List<CompletableFuture<Void>> sent = new ArrayList<>();
                for (WebhookDeliveries.Due d : due) {
                    sent.add(CompletableFuture.runAsync(() -> send(d), senders)
                            .orTimeout(tryLimit().toMillis(), TimeUnit.MILLISECONDS));
                }
                for (CompletableFuture<Void> f : sent) {
                    f.handle((v, e) -> null).join();
                }
            } while (!due.isEmpty() && !Thread.currentThread().isInterrupted());
        } catch (Throwable e) {
            // never thrown out of the schedule: that would end it, and no delivery would go out again
            LOG.warnf("webhook round stopped: %s", e.toString());
        }
    }

    /** One try, from resolving the host to the answer's end: the HTTP timeout stops at the headers, this does not. */
    private Duration tryLimit() {
        return config.timeout().multipliedBy(2);
    }

    /** How long a taken delivery is this replica's: longer than any try can last. */
    private Duration lease() {
        return tryLimit().plusSeconds(10);
    }

    private void send(WebhookDeliveries.Due d) {
        try {
            URI target = WebhookTarget.parse(d.url(), config);
            WebhookTarget.checkAddresses(target, config);
            String body = d.payload() != null ? d.payload() : deliveries.fixPayload(d.id(), payload(d));
            long timestamp = Instant.now().getEpochSecond();
            HttpRequest request = HttpRequest.newBuilder(target).timeout(config.timeout())
                    .header("Content-Type", "application/json")
                    .header("webhook-id", d.id().toString())
                    .header("webhook-timestamp", Long.toString(timestamp))
                    .header("webhook-signature", WebhookSignature.sign(secrets.signing(d.tenant()), d.id().toString(), timestamp, body))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build();
            CompletableFuture<HttpResponse<Void>> exchange = http.sendAsync(request, HttpResponse.BodyHandlers.discarding());
            HttpResponse<Void> answer;
            try {
                answer = exchange.get(config.timeout().toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                exchange.cancel(true);
                retry(d, null, "no answer within " + config.timeout().toMillis() + " ms", false);
                return;
            } catch (ExecutionException e) {
                Throwable cause = e.getCause() == null ? e : e.getCause();
                retry(d, null, cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage()), false);
                return;
            }
            if (answer.statusCode() / 100 == 2) {
                deliveries.delivered(d, answer.statusCode());
                count("delivered");
            } else {
                retry(d, answer.statusCode(), "the receiver answered " + answer.statusCode(), false);
            }
        } catch (WebhookTarget.RefusedTargetException e) {
            retry(d, null, "webhook " + e.getMessage(), !e.retryable());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.warnf(e, "webhook delivery %s of job %s not tried", d.id(), d.jobId());
            retry(d, null, "not tried: " + e.getMessage(), false);
        }
    }

    private void retry(WebhookDeliveries.Due d, Integer status, String error, boolean giveUp) {
        Duration backoff = backoff(d.tries() + 1, config);
        LOG.debugf("webhook delivery %s (%s of job %s) try %d failed: %s; %s", d.id(), d.type(), d.jobId(), d.tries() + 1,
                error, giveUp ? "given up" : "again in " + backoff.toMillis() + " ms");
        deliveries.failed(d, status, error, backoff, config.retryFor(), giveUp);
        count(giveUp ? "refused" : "failed");
    }

    /** The wait after {@code tries} failed tries: initial × 2^(tries − 1), at most the maximum, less up to 20 % jitter. */
    static Duration backoff(int tries, WebhookConfig config) {
        long initial = config.initialBackoff().toMillis();
        long max = config.maxBackoff().toMillis();
        long wait = tries >= 40 ? max : Math.min(max, initial << Math.max(0, tries - 1));
        return Duration.ofMillis(wait - (long) (wait * 0.2 * ThreadLocalRandom.current().nextDouble()));
    }

    /**
     * The event: {@code {"type", "timestamp", "data"}}. A job's end carries the job as {@code GET /v1/jobs/{id}}
     * answers it; a start or a step carries its id, attempt and progress.
     */
    private String payload(WebhookDeliveries.Due d) {
        ObjectNode event = json.createObjectNode();
        event.put("type", d.type());
        event.put("timestamp", d.createdAt().toString());
        Job job = jobs.find(d.jobId()).orElseThrow(() -> new IllegalStateException("job " + d.jobId() + " is gone"));
        if (d.type().equals("job.completed") && job.status.isTerminal()) {
            event.set("data", json.valueToTree(JobView.of(job, jobs.parameters(job), jobs.images(job), null)));
        } else {
            ObjectNode data = event.putObject("data");
            data.put("id", job.id.toString());
            data.put("model", job.model);
            data.put("status", JobStatus.RUNNING.name());
            data.put("attempt", d.attempt());
            data.putObject("progress").put("step", d.step()).put("totalSteps", job.totalSteps);
        }
        try {
            return json.writeValueAsString(event);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void count(String outcome) {
        metrics.counter("denoise_webhook_tries", "outcome", outcome).increment();
    }
}

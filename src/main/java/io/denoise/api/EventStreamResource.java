package io.denoise.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.auth.CurrentCaller;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobStore;
import io.denoise.messaging.JobEvent;
import io.denoise.recipe.InvalidRequestException;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.MultiEmitter;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code GET /v1/jobs/{id}/events}: the job's events as Server-Sent Events, each with its {@code seq} as the event
 * id and its type as the event name; resumes after {@code Last-Event-ID}; ends after the terminal event. The job's
 * row is read again once the stream is subscribed and whenever it has sent nothing for
 * {@code denoise.api.events-idle-check}: a job that has ended (before the stream opened, or with its terminal event
 * lost on the way) gets one terminal event built from its row, so every stream ends. Streams are capped per job
 * (429) and per replica (503).
 */
@Path("/v1/jobs/{id}/events")
@Blocking
public class EventStreamResource {

    private static final Logger LOG = Logger.getLogger(EventStreamResource.class);

    @Inject
    EventHub hub;

    @Inject
    JobStore store;

    @Inject
    ObjectMapper json;

    @Inject
    ApiConfig config;

    @Inject
    CurrentCaller caller;

    /** Re-reads job rows for streams; database reads only, never a stream write that could block. */
    private final ScheduledExecutorService checks = Executors.newScheduledThreadPool(2, r -> {
        Thread t = new Thread(r, "sse-status-check");
        t.setDaemon(true);
        return t;
    });

    @PreDestroy
    void stop() {
        checks.shutdownNow();
    }

    @GET
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Tag(name = "jobs")
    @Operation(operationId = "getJobEvents", summary = "Follow a job's progress live (Server-Sent Events)",
            description = "Each event's id is its seq and its name its type; data is the JobEvent as JSON. Types: "
                    + "started (an attempt claimed the job), progress (step, totalSteps, timestep, elapsedMs, etaMs, "
                    + "and preview, a base64 PNG, when the job asked for previews), image (index, seed, key: one per "
                    + "stored image), then exactly one of succeeded, failed (code, message) or cancelled, after which "
                    + "the stream ends. A retried attempt starts again with started. Reconnect with Last-Event-ID to "
                    + "get the events after it.")
    @APIResponse(responseCode = "200", description = "The event stream; it ends after the terminal event",
            content = @Content(mediaType = MediaType.SERVER_SENT_EVENTS,
                    schema = @Schema(type = SchemaType.STRING, description = "text/event-stream; each data: line is a JobEvent"),
                    examples = @ExampleObject(name = "progress", value = "id:1048578\nevent:progress\ndata:{\"jobId\":\"ae13e334-f860-4e5c-84af-a7dad93161f8\","
                            + "\"attempt\":1,\"seq\":1048578,\"type\":\"progress\",\"at\":\"2026-11-26T02:10:44.5Z\",\"step\":1,"
                            + "\"totalSteps\":20,\"timestep\":901.0,\"elapsedMs\":21,\"etaMs\":399}\n\n")))
    @APIResponse(responseCode = "400", description = "Last-Event-ID is not an event id (invalid_request)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "404", description = "No such job (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "429", description = "Too many streams on this job (too_many_streams)",
            headers = @Header(name = "Retry-After", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "503", description = "Too many streams on this replica (too_many_streams), or the database "
            + "cannot be reached (database_unavailable)",
            headers = @Header(name = "Retry-After", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Multi<OutboundSseEvent> events(@PathParam("id") String id,
                                          @Parameter(description = "The id (seq) of the last event received: resume after it")
                                          @HeaderParam("Last-Event-ID") String lastEventId,
                                          @Context Sse sse) {
        UUID jobId = JobResource.parseId(id);
        long after = parseSeq(lastEventId);
        store.find(caller.tenant(), jobId).orElseThrow(() -> new NotFoundException("no job " + id));
        EventHub.Subscription subscription = hub.reserve(jobId);
        return Multi.createFrom().<OutboundSseEvent>emitter(emitter -> {
            Stream stream = new Stream(emitter, sse, after);
            emitter.onTermination(() -> {
                stream.stopChecks();
                subscription.close();
            });
            subscription.start(after, stream::send);
            stream.startChecks(jobId);
        });
    }

    /** One open stream: what it has sent, and its status checks. */
    private final class Stream {
        private final MultiEmitter<? super OutboundSseEvent> emitter;
        private final Sse sse;
        private long lastSeq;
        private boolean done;
        private long lastSentNanos = System.nanoTime();
        private ScheduledFuture<?> timer;

        Stream(MultiEmitter<? super OutboundSseEvent> emitter, Sse sse, long after) {
            this.emitter = emitter;
            this.sse = sse;
            this.lastSeq = after;
        }

        synchronized void send(JobEvent event) {
            if (done || event.seq() <= lastSeq) {
                return;
            }
            lastSeq = event.seq();
            lastSentNanos = System.nanoTime();
            emitter.emit(toSse(sse, event));
            if (event.isTerminal()) {
                done = true;
                emitter.complete();
            }
        }

        /** Ends the stream with the job's terminal event if its row says it has ended. */
        synchronized void endIfFinished(Job job) {
            if (!done && job.status.isTerminal()) {
                done = true;
                emitter.emit(toSse(sse, terminalEvent(job)));
                emitter.complete();
            }
        }

        synchronized boolean idleFor(long nanos) {
            return !done && System.nanoTime() - lastSentNanos >= nanos;
        }

        void startChecks(UUID jobId) {
            long idle = Math.max(1, config.eventsIdleCheck().toMillis());
            long idleNanos = TimeUnit.MILLISECONDS.toNanos(idle);
            checks.execute(() -> check(jobId));
            ScheduledFuture<?> t = checks.scheduleWithFixedDelay(() -> {
                if (idleFor(idleNanos)) {
                    check(jobId);
                }
            }, idle, idle, TimeUnit.MILLISECONDS);
            synchronized (this) {
                timer = t;
                if (done) {
                    t.cancel(false);
                }
            }
        }

        synchronized void stopChecks() {
            done = true;
            if (timer != null) {
                timer.cancel(false);
            }
        }

        private void check(UUID jobId) {
            try {
                Optional<Job> job = store.find(jobId);
                if (job.isEmpty()) {
                    synchronized (this) {
                        done = true;
                        emitter.complete();
                    }
                    return;
                }
                endIfFinished(job.get());
            } catch (RuntimeException e) {
                LOG.debugf("status check of job %s failed (will retry): %s", jobId, e.getMessage());
            }
        }
    }

    static JobEvent terminalEvent(Job job) {
        long seq = JobEvent.FINAL_SEQ;
        if (job.status == JobStatus.FAILED) {
            return JobEvent.failed(job.id, job.attempt, seq, job.errorCode, job.errorMessage);
        }
        return JobEvent.of(job.id, job.attempt, seq,
                job.status == JobStatus.SUCCEEDED ? JobEvent.SUCCEEDED : JobEvent.CANCELLED);
    }

    private OutboundSseEvent toSse(Sse sse, JobEvent event) {
        try {
            return sse.newEventBuilder().id(Long.toString(event.seq())).name(event.type())
                    .data(json.writeValueAsString(event)).build();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long parseSeq(String lastEventId) {
        if (lastEventId == null || lastEventId.isBlank()) {
            return -1;
        }
        try {
            return Long.parseLong(lastEventId.trim());
        } catch (NumberFormatException e) {
            throw new InvalidRequestException("Last-Event-ID", "must be the id of an event this stream sent");
        }
    }
}

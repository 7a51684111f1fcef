package io.denoise.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobStore;
import io.denoise.messaging.JobEvent;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
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

import java.util.UUID;

/**
 * {@code GET /v1/jobs/{id}/events}: the job's events as Server-Sent Events, each with its {@code seq} as the event
 * id and its type as the event name; resumes after {@code Last-Event-ID}; ends after the terminal event. A job that
 * had already ended before the stream opened gets one terminal event built from its row.
 */
@Path("/v1/jobs/{id}/events")
@Blocking
public class EventStreamResource {

    @Inject
    EventHub hub;

    @Inject
    JobStore store;

    @Inject
    ObjectMapper json;

    @GET
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Operation(summary = "Follow a job's progress live (SSE)")
    public Multi<OutboundSseEvent> events(@PathParam("id") String id, @HeaderParam("Last-Event-ID") String lastEventId,
                                          @Context Sse sse) {
        UUID jobId = JobResource.parseId(id);
        Job job = store.find(jobId).orElseThrow(() -> new NotFoundException("no job " + id));
        long after = parseSeq(lastEventId);
        return Multi.createFrom().emitter(emitter -> {
            long[] last = {after};
            boolean[] done = {false};
            Runnable unsubscribe = hub.subscribe(jobId, after, event -> {
                synchronized (last) {
                    if (done[0] || event.seq() <= last[0]) {
                        return;
                    }
                    last[0] = event.seq();
                    emitter.emit(toSse(sse, event));
                    if (event.isTerminal()) {
                        done[0] = true;
                        emitter.complete();
                    }
                }
            });
            emitter.onTermination(unsubscribe);
            if (job.status.isTerminal()) {
                synchronized (last) {
                    if (!done[0]) {
                        done[0] = true;
                        emitter.emit(toSse(sse, terminalEvent(job)));
                        emitter.complete();
                    }
                }
            }
        });
    }

    private static JobEvent terminalEvent(Job job) {
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
            throw new InvalidFieldException("Last-Event-ID", "must be the id of an event this stream sent");
        }
    }
}

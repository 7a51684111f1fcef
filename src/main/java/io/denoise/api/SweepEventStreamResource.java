package io.denoise.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.Threads;
import io.denoise.jobs.Job;
import io.denoise.jobs.Sweep;
import io.denoise.jobs.SweepStore;
import io.denoise.messaging.JobEvent;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.MultiEmitter;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code GET /v1/sweeps/{id}/events}: every cell's events on one stream, each job event with its {@code cell}
 * added, then one {@code ended} event (the sweep's view) once every cell has ended. Cells that ended before the
 * stream opened, or whose terminal event was lost, get a terminal event built from their row at the next status
 * check, so the stream always ends. Each cell's stream counts against the per-job and per-replica caps.
 */
@Path("/v1/sweeps/{id}/events")
@Blocking
public class SweepEventStreamResource {

    private static final Logger LOG = Logger.getLogger(SweepEventStreamResource.class);
    static final String ENDED = "ended";

    @Inject
    EventHub hub;

    @Inject
    SweepStore sweeps;

    @Inject
    SweepResource resource;

    @Inject
    ObjectMapper json;

    @Inject
    ApiConfig config;

    private final ScheduledExecutorService checks = Threads.scheduled("sweep-sse-check");

    @PreDestroy
    void stop() {
        checks.shutdownNow();
    }

    @GET
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Tag(name = "sweeps")
    @Operation(operationId = "getSweepEvents", summary = "Follow every cell of a sweep live (Server-Sent Events)",
            description = "The cells' job events (started, progress, image, succeeded, failed, cancelled), each "
                    + "JobEvent with its cell index added and named by its type; then one ended event whose data is the "
                    + "sweep (as GET /v1/sweeps/{id}), after which the stream ends. A new stream replays what the "
                    + "replica still holds of each cell.")
    @APIResponse(responseCode = "200", description = "The event stream",
            content = @Content(mediaType = MediaType.SERVER_SENT_EVENTS, schema = @Schema(type = SchemaType.STRING)))
    @APIResponse(responseCode = "404", description = "No such sweep (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    @APIResponse(responseCode = "429", description = "Too many streams on a cell (too_many_streams)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Multi<OutboundSseEvent> events(@PathParam("id") String id, @Context Sse sse) {
        Sweep sweep = resource.find(id);
        List<Job> cells = sweeps.cells(sweep.id);
        List<EventHub.Subscription> subscriptions = new ArrayList<>();
        try {
            for (Job cell : cells) {
                subscriptions.add(hub.reserve(cell.id));
            }
        } catch (RuntimeException e) {
            subscriptions.forEach(EventHub.Subscription::close);
            throw e;
        }
        return Multi.createFrom().<OutboundSseEvent>emitter(emitter -> {
            Stream stream = new Stream(emitter, sse, sweep, cells);
            emitter.onTermination(() -> {
                stream.stop();
                subscriptions.forEach(EventHub.Subscription::close);
            });
            for (int i = 0; i < cells.size(); i++) {
                int cell = cells.get(i).sweepCell;
                subscriptions.get(i).start(-1, event -> stream.send(cell, event));
            }
            stream.startChecks();
        });
    }

    /** One open sweep stream: which cells have ended, and its status checks. */
    private final class Stream {
        private final MultiEmitter<? super OutboundSseEvent> emitter;
        private final Sse sse;
        private final Sweep sweep;
        private final Map<UUID, Integer> cellOf = new HashMap<>();
        private final BitSet ended = new BitSet();
        private final int cells;
        private boolean done;
        private ScheduledFuture<?> timer;

        Stream(MultiEmitter<? super OutboundSseEvent> emitter, Sse sse, Sweep sweep, List<Job> jobs) {
            this.emitter = emitter;
            this.sse = sse;
            this.sweep = sweep;
            this.cells = jobs.size();
            jobs.forEach(job -> cellOf.put(job.id, job.sweepCell));
        }

        synchronized void send(int cell, JobEvent event) {
            if (done || ended.get(cell)) {
                return;
            }
            ObjectNode data = json.valueToTree(event);
            data.put("cell", cell);
            emitter.emit(sse.newEventBuilder().name(event.type()).data(data.toString()).build());
            if (event.isTerminal()) {
                ended.set(cell);
                checks.execute(this::check); // the last cell's end ends the stream now, not at the next check
            }
        }

        void startChecks() {
            long every = Math.max(1, config.eventsIdleCheck().toMillis());
            ScheduledFuture<?> t = checks.scheduleWithFixedDelay(this::check, 0, every, TimeUnit.MILLISECONDS);
            synchronized (this) {
                timer = t;
                if (done) {
                    t.cancel(false);
                }
            }
        }

        synchronized void stop() {
            done = true;
            if (timer != null) {
                timer.cancel(false);
            }
        }

        /** Ends the cells whose rows say they have ended, and the stream once all have. */
        private void check() {
            try {
                List<Job> jobs = sweeps.cells(sweep.id);
                for (Job job : jobs) {
                    if (job.status.isTerminal()) {
                        send(cellOf.get(job.id), EventStreamResource.terminalEvent(job));
                    }
                }
                synchronized (this) {
                    if (!done && ended.cardinality() == cells) {
                        done = true;
                        emitter.emit(sse.newEventBuilder().name(ENDED)
                                .data(json.writeValueAsString(resource.view(sweeps.find(sweep.id).orElseThrow()))).build());
                        emitter.complete();
                    }
                }
            } catch (RuntimeException | JsonProcessingException e) {
                LOG.debugf("status check of sweep %s failed (will retry): %s", sweep.id, e.getMessage());
            }
        }
    }
}

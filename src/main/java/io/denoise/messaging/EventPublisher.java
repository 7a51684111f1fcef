package io.denoise.messaging;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.smallrye.reactive.messaging.kafka.Record;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Emitter;
import org.eclipse.microprofile.reactive.messaging.OnOverflow;

import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** Publishes job events on {@code denoise.events} (keyed by job id) and cancel broadcasts on {@code denoise.control}. */
@ApplicationScoped
public class EventPublisher implements JobEvents {

    @Inject
    @Channel(Topics.EVENTS_OUT)
    @OnOverflow(value = OnOverflow.Strategy.BUFFER, bufferSize = 4096)
    Emitter<Record<String, String>> events;

    @Inject
    @Channel(Topics.CONTROL_OUT)
    @OnOverflow(value = OnOverflow.Strategy.BUFFER, bufferSize = 1024)
    Emitter<Record<String, String>> control;

    @Inject
    ObjectMapper json;

    /**
     * Sends an event without waiting; the returned stage completes when the broker has it. Events are best
     * effort — the database holds every job's truth and event streams re-check it — so a broker that is down or
     * a full send buffer fails the stage, never the caller.
     */
    @Override
    public CompletionStage<Void> publish(JobEvent event) {
        return send(events, event.jobId(), event);
    }

    /** Tells every worker to stop the job if it runs it (best effort, like {@link #publish}). */
    public CompletionStage<Void> broadcastCancel(UUID jobId) {
        return send(control, jobId, new ControlMessage(ControlMessage.CANCEL, jobId));
    }

    private CompletionStage<Void> send(Emitter<Record<String, String>> emitter, UUID key, Object value) {
        try {
            return emitter.send(Record.of(key.toString(), write(value)));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}

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
import java.util.concurrent.CompletionStage;

/** Publishes job events on {@code denoise.events} (keyed by job id) and cancel broadcasts on {@code denoise.control}. */
@ApplicationScoped
public class EventPublisher {

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

    /** Sends an event; the returned stage completes when the broker has it. */
    public CompletionStage<Void> publish(JobEvent event) {
        return events.send(Record.of(event.jobId().toString(), write(event)));
    }

    /** Tells every worker to stop the job if it runs it. */
    public CompletionStage<Void> broadcastCancel(UUID jobId) {
        return control.send(Record.of(jobId.toString(), write(new ControlMessage(ControlMessage.CANCEL, jobId))));
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}

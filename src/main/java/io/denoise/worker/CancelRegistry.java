package io.denoise.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.messaging.ControlMessage;
import io.denoise.messaging.Topics;
import io.denoise.pipeline.Cancellation;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The cancellations of the jobs running in this process, reached by the cancel broadcasts on
 * {@code denoise.control} (and by the job's own heartbeats, which see the cancel flag in the database even if a
 * broadcast is lost). Thread-safe.
 */
@ApplicationScoped
public class CancelRegistry {

    private static final Logger LOG = Logger.getLogger(CancelRegistry.class);

    @Inject
    ObjectMapper json;

    private final Map<UUID, Cancellation> running = new ConcurrentHashMap<>();

    void register(UUID jobId, Cancellation cancellation) {
        running.put(jobId, cancellation);
    }

    void unregister(UUID jobId) {
        running.remove(jobId);
    }

    /** Cancels the job if it runs here; returns whether it did. */
    public boolean cancel(UUID jobId) {
        Cancellation c = running.get(jobId);
        if (c == null) {
            return false;
        }
        c.cancel();
        return true;
    }

    /** Cancels every job running here (shutdown). */
    void cancelAll() {
        running.values().forEach(Cancellation::cancel);
    }

    @Incoming(Topics.CONTROL_IN)
    void onControl(String value) {
        try {
            ControlMessage message = json.readValue(value, ControlMessage.class);
            if (ControlMessage.CANCEL.equals(message.type()) && message.jobId() != null && cancel(message.jobId())) {
                LOG.infof("cancelling job %s on request", message.jobId());
            }
        } catch (Exception e) {
            LOG.warnf("ignoring unreadable control message: %s", e.getMessage());
        }
    }
}

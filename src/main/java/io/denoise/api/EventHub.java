package io.denoise.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.messaging.JobEvent;
import io.denoise.messaging.Topics;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.function.Consumer;

/**
 * Relays {@code denoise.events} to SSE subscribers of this API replica, and keeps each recent job's events so a
 * reconnecting client resumes after its {@code Last-Event-ID}. Subscribers are called under a lock, in order:
 * they must only hand the event on (to an SSE stream), never block. Thread-safe.
 */
@ApplicationScoped
public class EventHub {

    private static final Logger LOG = Logger.getLogger(EventHub.class);
    private static final int MAX_JOBS = 10_000;
    private static final int MAX_EVENTS_PER_JOB = 1_000;

    @Inject
    ObjectMapper json;

    private final Map<UUID, Set<Consumer<JobEvent>>> subscribers = new ConcurrentHashMap<>();
    private final Map<UUID, Deque<JobEvent>> recent = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<UUID, Deque<JobEvent>> eldest) {
            return size() > MAX_JOBS;
        }
    };

    @Incoming(Topics.EVENTS_IN)
    void onRecord(String value) {
        JobEvent event;
        try {
            event = json.readValue(value, JobEvent.class);
        } catch (Exception e) {
            LOG.warnf("ignoring unreadable event: %s", e.getMessage());
            return;
        }
        if (event.jobId() == null || event.type() == null) {
            LOG.warn("ignoring event without jobId or type");
            return;
        }
        accept(event);
    }

    /** Records an event and hands it to the job's subscribers. */
    void accept(JobEvent event) {
        synchronized (recent) {
            Deque<JobEvent> events = recent.computeIfAbsent(event.jobId(), id -> new ArrayDeque<>());
            if (events.size() == MAX_EVENTS_PER_JOB) {
                events.removeFirst();
            }
            events.addLast(event);
            for (Consumer<JobEvent> s : subscribers.getOrDefault(event.jobId(), Set.of())) {
                s.accept(event);
            }
        }
    }

    /**
     * Subscribes to a job's events: first the recent ones with {@code seq > afterSeq}, then live ones.
     *
     * @return a handle that unsubscribes
     */
    public Runnable subscribe(UUID jobId, long afterSeq, Consumer<JobEvent> subscriber) {
        synchronized (recent) {
            for (JobEvent e : recent.getOrDefault(jobId, new ArrayDeque<>())) {
                if (e.seq() > afterSeq) {
                    subscriber.accept(e);
                }
            }
            subscribers.computeIfAbsent(jobId, id -> new CopyOnWriteArraySet<>()).add(subscriber);
        }
        return () -> subscribers.computeIfPresent(jobId, (id, set) -> {
            set.remove(subscriber);
            return set.isEmpty() ? null : set;
        });
    }
}

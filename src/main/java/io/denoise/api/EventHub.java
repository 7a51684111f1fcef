package io.denoise.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.Roles;
import io.denoise.messaging.JobEvent;
import io.denoise.messaging.Topics;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Relays {@code denoise.events} to SSE subscribers of this API replica, and keeps recent jobs' events so a
 * reconnecting client resumes after its {@code Last-Event-ID}. What it keeps is bounded in bytes
 * ({@code denoise.api.event-buffer-bytes}, each event counted as its JSON length plus {@value #EVENT_OVERHEAD_BYTES}):
 * past the bound the jobs least recently heard from are dropped first, and an event larger than the whole bound is
 * handed on live but never kept. Streams are capped per job and in total. A process without the {@code api} role
 * keeps and relays nothing (its {@code events-in} channel is off, see {@link io.denoise.RolesConfigSourceFactory}).
 * Subscribers are called under a lock, in order: they must only hand the event on (to an SSE stream), never block.
 * Thread-safe.
 */
@ApplicationScoped
public class EventHub {

    private static final Logger LOG = Logger.getLogger(EventHub.class);
    static final int MAX_EVENTS_PER_JOB = 1_000;
    /** Counted per retained event on top of its JSON length: the record, its boxed fields, the deque slot. */
    static final long EVENT_OVERHEAD_BYTES = 256;

    /** A job's retained events, oldest first, and what they are counted as. */
    private static final class Retained {
        final Deque<JobEvent> events = new ArrayDeque<>();
        final Deque<Long> sizes = new ArrayDeque<>();
        long bytes;

        void add(JobEvent event, long size) {
            events.addLast(event);
            sizes.addLast(size);
            bytes += size;
        }

        long dropOldest() {
            events.removeFirst();
            long size = sizes.removeFirst();
            bytes -= size;
            return size;
        }
    }

    /** A stream refused because a subscriber cap is reached; {@code perJob} tells which one. */
    public static final class TooManySubscribersException extends RuntimeException {
        private final boolean perJob;

        TooManySubscribersException(boolean perJob, String message) {
            super(message);
            this.perJob = perJob;
        }

        public boolean perJob() {
            return perJob;
        }
    }

    /** A reserved place for one stream; {@link #start} attaches it, {@link #close} frees the place (idempotent). */
    public final class Subscription implements AutoCloseable {
        private final UUID jobId;
        private final AtomicBoolean closed = new AtomicBoolean();
        private Consumer<JobEvent> subscriber;

        private Subscription(UUID jobId) {
            this.jobId = jobId;
        }

        /** Hands the subscriber the retained events with {@code seq > afterSeq}, then live ones. */
        public void start(long afterSeq, Consumer<JobEvent> subscriber) {
            synchronized (lock) {
                if (closed.get()) {
                    return;
                }
                this.subscriber = subscriber;
                Retained r = recent.get(jobId);
                if (r != null) {
                    for (JobEvent e : r.events) {
                        if (e.seq() > afterSeq) {
                            subscriber.accept(e);
                        }
                    }
                }
                live.computeIfAbsent(jobId, id -> new CopyOnWriteArraySet<>()).add(subscriber);
            }
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            synchronized (lock) {
                if (subscriber != null) {
                    Set<Consumer<JobEvent>> set = live.get(jobId);
                    if (set != null) {
                        set.remove(subscriber);
                        if (set.isEmpty()) {
                            live.remove(jobId);
                        }
                    }
                }
                int left = places.merge(jobId, -1, Integer::sum);
                if (left <= 0) {
                    places.remove(jobId);
                }
                total--;
            }
        }
    }

    private final ObjectMapper json;
    private final boolean apiRole;
    private final long maxBytes;
    private final int maxPerJob;
    private final int maxTotal;
    /** Told of every job's terminal event, off the consumer thread's critical path (sweeps draw their grids). */
    private final Consumer<UUID> onJobEnded;

    private final Object lock = new Object();
    /** Access order: the first entry is the job least recently heard from. */
    private final LinkedHashMap<UUID, Retained> recent = new LinkedHashMap<>(1024, 0.75f, true);
    private final Map<UUID, Set<Consumer<JobEvent>>> live = new HashMap<>();
    private final Map<UUID, Integer> places = new HashMap<>();
    private long retainedBytes;
    private int total;

    @Inject
    EventHub(ObjectMapper json, Roles roles, ApiConfig config, SweepGrids grids) {
        this(json, roles.api(), config.eventBufferBytes(), config.maxSubscribersPerJob(), config.maxSubscribers(),
                grids::jobEnded);
    }

    EventHub(ObjectMapper json, boolean apiRole, long maxBytes, int maxPerJob, int maxTotal) {
        this(json, apiRole, maxBytes, maxPerJob, maxTotal, id -> { });
    }

    EventHub(ObjectMapper json, boolean apiRole, long maxBytes, int maxPerJob, int maxTotal, Consumer<UUID> onJobEnded) {
        this.onJobEnded = onJobEnded;
        this.json = json;
        this.apiRole = apiRole;
        this.maxBytes = maxBytes;
        this.maxPerJob = maxPerJob;
        this.maxTotal = maxTotal;
    }

    @Incoming(Topics.EVENTS_IN)
    void onRecord(String value) {
        if (!apiRole) {
            return;
        }
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
        accept(event, value.length() + EVENT_OVERHEAD_BYTES);
        if (event.isTerminal()) {
            onJobEnded.accept(event.jobId());
        }
    }

    /** Keeps an event (unless it alone is over the bound), evicting as needed, and hands it to the job's subscribers. */
    void accept(JobEvent event, long size) {
        synchronized (lock) {
            if (size <= maxBytes) {
                Retained r = recent.computeIfAbsent(event.jobId(), id -> new Retained());
                if (r.events.size() == MAX_EVENTS_PER_JOB) {
                    retainedBytes -= r.dropOldest();
                }
                r.add(event, size);
                retainedBytes += size;
                evictOver(r);
            }
            for (Consumer<JobEvent> s : live.getOrDefault(event.jobId(), Set.of())) {
                s.accept(event);
            }
        }
    }

    /** Drops the jobs least recently heard from, then the oldest events of {@code current}, until under the bound. */
    private void evictOver(Retained current) {
        Iterator<Retained> eldest = recent.values().iterator();
        while (retainedBytes > maxBytes && eldest.hasNext()) {
            Retained r = eldest.next();
            if (r == current) {
                continue;
            }
            retainedBytes -= r.bytes;
            eldest.remove();
        }
        while (retainedBytes > maxBytes) {
            retainedBytes -= current.dropOldest();
        }
    }

    /**
     * Reserves a place for one stream of a job.
     *
     * @throws TooManySubscribersException when the job already has {@code max-subscribers-per-job} streams, or this
     *                                     replica {@code max-subscribers}
     */
    public Subscription reserve(UUID jobId) {
        synchronized (lock) {
            if (total >= maxTotal) {
                throw new TooManySubscribersException(false, "this replica already serves " + maxTotal
                        + " event streams; try again later");
            }
            int forJob = places.getOrDefault(jobId, 0);
            if (forJob >= maxPerJob) {
                throw new TooManySubscribersException(true, "job " + jobId + " already has " + maxPerJob
                        + " event streams open");
            }
            places.put(jobId, forJob + 1);
            total++;
            return new Subscription(jobId);
        }
    }

    /** Bytes retained now, as counted against {@code denoise.api.event-buffer-bytes}. */
    long retainedBytes() {
        synchronized (lock) {
            return retainedBytes;
        }
    }

    /** Jobs with retained events now. */
    int retainedJobs() {
        synchronized (lock) {
            return recent.size();
        }
    }

    /** Streams open (or reserved) now. */
    int subscribers() {
        synchronized (lock) {
            return total;
        }
    }
}

package io.denoise.jobs;

import io.denoise.Roles;
import io.denoise.Threads;
import io.denoise.messaging.JobRecord;
import io.denoise.messaging.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Releases held jobs to Kafka in fair order, from every API replica (one at a time per model, under a transaction
 * advisory lock). Each round keeps {@code max(min-ahead, ahead-per-running × running)} jobs of the model released
 * and not yet started; to fill that, it takes the highest priority held, and within it the tenant with the fewest
 * jobs released or running (ties: the oldest waiting job), one job at a time. A released job gets its outbox record
 * in the same transaction, and the relay sends it on.
 *
 * <p>A submit that stores held jobs of a model whose last round left room ({@link #hasRoom}) runs that model's round
 * in its own transaction ({@link #releaseWithin}), so the job is released by its own commit. Other rounds run soon
 * after this replica stored jobs that stayed held (no room, or another round held the lock) or a worker in this
 * process claimed one ({@link JobStore.DispatchDue}): at most one such round waits at a time, and it starts no sooner
 * than {@link #WAKE_GAP_NANOS} after the previous round ended, so a burst of claims costs a few rounds, not one per
 * claim. Ticks run besides, every {@link SchedulingConfig#interval()} while the last round saw held jobs (room opens
 * as workers elsewhere claim jobs, and nothing tells this replica) or failed, and every
 * {@link SchedulingConfig#idleInterval()} while it saw none: held jobs of any replica wake that replica's own
 * dispatcher, so an idle tick only catches the jobs of one that stopped before its round.
 */
@ApplicationScoped
public class FairDispatcher {

    private static final Logger LOG = Logger.getLogger(FairDispatcher.class);
    /** The least time between the end of a round and a round run on a wake-up. */
    static final long WAKE_GAP_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

    /** A held job, as a round reads it. */
    record Held(UUID id, String tenant, int priority, Instant createdAt) {
    }

    @Inject
    Roles roles;

    @Inject
    SchedulingConfig config;

    @Inject
    ModelRegistry models;

    @Inject
    Topics topics;

    @Inject
    DataSource dataSource;

    @Inject
    Event<JobStore.OutboxWritten> outboxWritten;

    @Inject
    MeterRegistry metrics;

    private volatile ScheduledExecutorService rounds;
    /** Whether a round asked for by a wake-up is waiting to run. */
    private final AtomicBoolean wakePending = new AtomicBoolean();
    /** When the last round ended ({@link System#nanoTime()}); the rounds' thread writes it. */
    private volatile long lastRoundEnded = System.nanoTime();
    private Counter scheduledRounds;
    private Counter wokenRounds;
    private Counter submitRounds;
    /** The next tick, and when it is due ({@link System#nanoTime()}); the rounds' thread only. */
    private ScheduledFuture<?> nextTick;
    private long nextTickAt;
    private volatile long lastWarning = System.nanoTime() - TimeUnit.MINUTES.toNanos(2);
    /** The models whose last round here left room and nothing held ({@link #hasRoom}). */
    private final Set<String> withRoom = ConcurrentHashMap.newKeySet();

    /** In every role: a submit's own rounds count too, and counters never wait for the start. */
    @PostConstruct
    void registerMeters() {
        scheduledRounds = rounds("schedule");
        wokenRounds = rounds("wake");
        submitRounds = rounds("submit");
    }

    /** Runs with fairness off too, so that jobs held before it was turned off are released (all at once). */
    void start(@Observes StartupEvent event) {
        if (!roles.api()) {
            return;
        }
        ScheduledExecutorService executor = Threads.scheduled("fair-dispatcher");
        rounds = executor;
        executor.execute(this::tick);
    }

    private void tick() {
        nextTick = null;
        scheduleTick(round(scheduledRounds));
    }

    /**
     * On the rounds' thread: the next tick after the short interval if {@code busy} (held jobs seen, or a failure),
     * else after the idle one, unless one is due sooner already.
     */
    private void scheduleTick(boolean busy) {
        long delay = (busy ? config.interval() : config.idleInterval()).toNanos();
        long at = System.nanoTime() + delay;
        if (nextTick != null) {
            if (nextTickAt - at <= 0) {
                return;
            }
            nextTick.cancel(false);
        }
        try {
            nextTickAt = at;
            nextTick = rounds.schedule(this::tick, delay, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            nextTick = null; // shutting down
        }
    }

    private Counter rounds(String trigger) {
        return Counter.builder("denoise_dispatch_rounds").tag("trigger", trigger)
                .description("Release rounds run by this replica's dispatcher, by what started them")
                .register(metrics);
    }

    /** Asks for a round soon, once what fired the event has committed (see the class comment). */
    void onDispatchDue(@Observes(during = TransactionPhase.AFTER_SUCCESS) JobStore.DispatchDue event) {
        wake();
    }

    /** Runs a round soon: within {@link #WAKE_GAP_NANOS} of the last one's end, unless one is already waiting. */
    void wake() {
        ScheduledExecutorService executor = rounds;
        if (executor == null || !wakePending.compareAndSet(false, true)) {
            return;
        }
        long delay = Math.max(0, WAKE_GAP_NANOS - (System.nanoTime() - lastRoundEnded));
        try {
            executor.schedule(() -> {
                // cleared first: what commits during this round asks for the next one
                wakePending.set(false);
                if (round(wokenRounds)) {
                    scheduleTick(true);
                }
            }, delay, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            wakePending.set(false); // shutting down
        }
    }

    void stop(@Observes ShutdownEvent event) {
        if (rounds != null) {
            rounds.shutdownNow();
        }
    }

    /**
     * One round over every model; whether it is busy: a model had held jobs (or another replica was releasing it),
     * or the round failed. Never throws: an exception would end the ticks, and held jobs would wait for ever.
     */
    private boolean round(Counter counted) {
        counted.increment();
        boolean busy = false;
        try {
            for (String model : models.all().keySet()) {
                try {
                    Outcome outcome = releaseAlone(model);
                    busy |= outcome.busy();
                    if (!outcome.released().isEmpty()) {
                        LOG.debugf("released %d held jobs of %s", outcome.released().size(), model);
                        outboxWritten.fire(new JobStore.OutboxWritten());
                    }
                } catch (SQLException | RuntimeException e) {
                    busy = true;
                    warn("no release round for " + model + ": " + e.getMessage());
                }
            }
        } catch (Throwable e) {
            busy = true;
            warn("no release round: " + e);
        } finally {
            lastRoundEnded = System.nanoTime();
        }
        return busy;
    }

    /** One round for {@code model} in a transaction of its own. */
    private Outcome releaseAlone(String model) throws SQLException {
        return Transactions.run(dataSource, true, c -> release(c, model));
    }

    /**
     * What one model's round did: the jobs it released, in order, and whether it is busy (it saw held jobs, or another
     * replica held the model's lock, which is to say it may have).
     */
    record Outcome(List<UUID> released, boolean busy) {
    }

    /** A warning at most once a minute: a database that is down makes every round fail. */
    private void warn(String message) {
        long now = System.nanoTime();
        if (now - lastWarning > TimeUnit.MINUTES.toNanos(1)) {
            lastWarning = now;
            LOG.warn(message);
        } else {
            LOG.debug(message);
        }
    }

    /**
     * Whether the last round of {@code model} (on this replica, of any trigger) left room with nothing held: a job of
     * it submitted now would be released at once, so its submit runs the round itself ({@link #releaseWithin}).
     * While held jobs wait for room, submits leave the rounds to the dispatcher and pay no query for them.
     */
    boolean hasRoom(String model) {
        return withRoom.contains(model);
    }

    private void setRoom(String model, boolean room) {
        if (room) {
            withRoom.add(model);
        } else {
            withRoom.remove(model);
        }
    }

    /**
     * Rounds for {@code models} inside a submit's own transaction on {@code c}, right after it stored held jobs of
     * theirs: a job submitted while its model has room leaves with its own commit, without waiting for a round after
     * it. Each model's round runs under a savepoint: one that fails is undone and leaves its jobs held for the next
     * round, never failing the submit. The ids released (the submit's own jobs among them, maybe others' held
     * before); a model whose lock another round holds releases none.
     */
    Set<UUID> releaseWithin(Connection c, Collection<String> models) throws SQLException {
        Set<UUID> released = new HashSet<>();
        for (String model : models) {
            Savepoint savepoint = c.setSavepoint();
            try {
                released.addAll(release(c, model).released());
                c.releaseSavepoint(savepoint);
                submitRounds.increment();
            } catch (SQLException | RuntimeException e) {
                c.rollback(savepoint);
                warn("no release round for " + model + " in a submit: " + e.getMessage());
            }
        }
        return released;
    }

    /** One round for {@code model}, in the transaction open on {@code c}. */
    Outcome release(Connection c, String model) throws SQLException {
        boolean locked;
        boolean anyHeld;
        long ahead;
        long running;
        try (PreparedStatement s = c.prepareStatement("""
                with m(model) as (values (?::text))
                select pg_try_advisory_xact_lock(hashtextextended('denoise-dispatch:' || m.model, 0)),
                       (select count(*) from job where model = m.model and status = 'QUEUED' and not held),
                       (select count(*) from job where model = m.model and status = 'RUNNING'),
                       exists (select 1 from job where model = m.model and status = 'QUEUED' and held)
                  from m""")) {
            s.setString(1, model);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                locked = r.getBoolean(1);
                ahead = r.getLong(2);
                running = r.getLong(3);
                anyHeld = r.getBoolean(4);
            }
        }
        if (!locked) {
            return new Outcome(List.of(), true);
        }
        int room = !config.fair() ? config.maxRelease() : (int) Math.min(config.maxRelease(),
                Math.max(Math.max(1, config.minAhead()), Math.ceil(config.aheadPerRunning() * running)) - ahead);
        if (!anyHeld || room <= 0) {
            setRoom(model, !anyHeld && room > 0);
            return new Outcome(List.of(), anyHeld);
        }
        List<Held> held = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("""
                select id, tenant, priority, created_at from (
                    select id, tenant, priority, created_at,
                           row_number() over (partition by tenant, priority order by created_at, id) as n
                      from job where model = ? and status = 'QUEUED' and held) c
                 where n <= ?""")) {
            s.setString(1, model);
            s.setInt(2, room);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    held.add(new Held(r.getObject(1, UUID.class), r.getString(2), r.getInt(3),
                            r.getTimestamp(4).toInstant()));
                }
            }
        }
        Map<String, Long> activeByTenant = new HashMap<>();
        try (PreparedStatement s = c.prepareStatement("""
                select tenant, count(*) from job
                 where model = ? and (status = 'RUNNING' or (status = 'QUEUED' and not held))
                 group by tenant""")) {
            s.setString(1, model);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    activeByTenant.put(r.getString(1), r.getLong(2));
                }
            }
        }
        List<UUID> chosen = order(held, activeByTenant, room);
        if (chosen.isEmpty()) {
            return new Outcome(List.of(), true);
        }
        // a job another transaction has locked (being cancelled) is skipped, not waited for: it keeps no record
        Set<UUID> updated = new HashSet<>();
        try (PreparedStatement s = c.prepareStatement("""
                update job set held = false
                 where id in (select id from job where id = any (?::uuid[]) and held and status = 'QUEUED'
                                 for update skip locked)
                returning id""")) {
            s.setArray(1, c.createArrayOf("text", chosen.stream().map(UUID::toString).toArray()));
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    updated.add(r.getObject(1, UUID.class));
                }
            }
        }
        // their records in the order of release
        List<UUID> released = chosen.stream().filter(updated::contains).toList();
        String topic = topics.jobs(model);
        Instant now = Instant.now();
        OutboxMessage.insert(c, released.stream().map(id -> OutboxMessage.of(topic, id, new JobRecord(id, model).toJson(), now))
                .toList());
        // room left: what was held fitted, so a job submitted next fits too
        setRoom(model, released.size() < room);
        return new Outcome(released, true);
    }

    /**
     * The fair order of release, at most {@code room} jobs: priority first; within one, the tenant with the fewest
     * jobs active (released or running) next, ties to the tenant whose next job has waited longest; each job taken
     * counts for its tenant at once, so tenants alternate.
     */
    static List<UUID> order(List<Held> held, Map<String, Long> active, int room) {
        TreeMap<Integer, Map<String, Deque<Held>>> byPriority = new TreeMap<>(Comparator.reverseOrder());
        for (Held h : held.stream().sorted(Comparator.comparing(Held::createdAt).thenComparing(Held::id)).toList()) {
            byPriority.computeIfAbsent(h.priority(), p -> new HashMap<>())
                    .computeIfAbsent(h.tenant(), t -> new ArrayDeque<>()).add(h);
        }
        Map<String, Long> counts = new HashMap<>(active);
        List<UUID> out = new ArrayList<>();
        for (Map<String, Deque<Held>> tenants : byPriority.values()) {
            while (out.size() < room && !tenants.isEmpty()) {
                String next = null;
                for (Map.Entry<String, Deque<Held>> e : tenants.entrySet()) {
                    if (next == null || fairer(e.getKey(), e.getValue().peekFirst(), next, tenants.get(next).peekFirst(), counts)) {
                        next = e.getKey();
                    }
                }
                Deque<Held> queue = tenants.get(next);
                out.add(queue.pollFirst().id());
                counts.merge(next, 1L, Long::sum);
                if (queue.isEmpty()) {
                    tenants.remove(next);
                }
            }
        }
        return out;
    }

    private static boolean fairer(String tenant, Held job, String than, Held thanJob, Map<String, Long> counts) {
        long a = counts.getOrDefault(tenant, 0L);
        long b = counts.getOrDefault(than, 0L);
        if (a != b) {
            return a < b;
        }
        int byTime = job.createdAt().compareTo(thanJob.createdAt());
        return byTime != 0 ? byTime < 0 : job.id().compareTo(thanJob.id()) < 0;
    }
}

package io.denoise.jobs;

import io.denoise.Threads;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.persistence.EntityExistsException;
import org.jboss.logging.Logger;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Group commit for submits: the jobs submitted on this replica while a transaction is on its way are stored
 * together in the next one, so a submit costs its share of five round trips instead of its own transaction, and a
 * tenant's quota rows are locked once per group instead of once per job. One transaction: lock the group's tenants'
 * quota rows ({@link Quotas#lock}), decide each job in submit order ({@link Quotas#decide}), insert the admitted jobs
 * in one statement (a job whose {@code Idempotency-Key} is already taken is skipped, and its caller looks the winner
 * up), their outbox records where fair scheduling is off, else a release round of the {@link FairDispatcher} for
 * those of their models that had room at its last round ({@link FairDispatcher#releaseWithin}: such a job leaves held
 * no longer than its own commit), and charge the tenants for what was inserted. Plain JDBC: nothing here needs the
 * ORM, and every ORM step per job was CPU the API spent once per request. Once it commits, the relay is woken for the
 * outbox records and the dispatcher for the jobs still held.
 *
 * <p>{@code denoise.jobs.submit-committers} transactions run at once, each with at most
 * {@code denoise.jobs.submit-batch} jobs; submits waiting beyond {@code denoise.jobs.submit-queue} are refused with
 * {@link SubmitQueueFullException} (a 503) rather than queued without bound.
 */
@ApplicationScoped
public class SubmitBatcher {

    private static final Logger LOG = Logger.getLogger(SubmitBatcher.class);

    /** A submit refused because too many are already waiting for a transaction on this replica. */
    public static final class SubmitQueueFullException extends RuntimeException {
        SubmitQueueFullException(int limit) {
            super("more than " + limit + " submits are waiting to be stored on this replica");
        }
    }

    /**
     * The tenant of a rehearsal: a submit of this tenant takes the whole way, queue and group transaction, in a group
     * of rehearsals only, whose transaction is rolled back; it answers as if stored. The API's warm-up uses it; no
     * key can belong to it, as tenant names are {@code [a-z0-9_-]}.
     */
    public static final String REHEARSAL_TENANT = "(warm-up)";

    /** Whether {@code tenant}'s submits are rehearsals: rolled back, and counted nowhere. */
    public static boolean isRehearsal(String tenant) {
        return REHEARSAL_TENANT.equals(tenant);
    }

    private record Pending(Job job, String topic, String recordPayload, CompletableFuture<Job> result) {
    }

    /** What a group's transaction wrote: outbox records (the relay is due), jobs left held (the dispatcher is). */
    private record Stored(boolean outbox, boolean held) {
    }

    @Inject
    DataSource dataSource;

    @Inject
    Quotas quotas;

    @Inject
    JobsConfig config;

    @Inject
    Event<JobStore.OutboxWritten> outboxWritten;

    @Inject
    Event<JobStore.DispatchDue> dispatchDue;

    @Inject
    FairDispatcher dispatcher;

    private BlockingQueue<Pending> queue;
    private ExecutorService committers;

    /**
     * Stores {@code job} (a new QUEUED job, not yet persisted) with the next group, waiting for its transaction.
     *
     * @return the job as stored
     * @throws Quotas.QuotaExceededException when its tenant's quotas refuse it (nothing stored)
     * @throws EntityExistsException         when its tenant already has a job with its idempotency key
     * @throws SubmitQueueFullException      when too many submits are waiting already
     */
    public Job submit(Job job, String topic, String recordPayload) {
        CompletableFuture<Job> result = new CompletableFuture<>();
        if (!queue().offer(new Pending(job, topic, recordPayload, result))) {
            throw new SubmitQueueFullException(config.submitQueue());
        }
        try {
            return result.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the job was being stored", e);
        } catch (ExecutionException e) {
            // this job's own answer as it is; a failure of the whole group wrapped for each of its callers
            if (e.getCause() instanceof Quotas.QuotaExceededException || e.getCause() instanceof EntityExistsException) {
                throw (RuntimeException) e.getCause();
            }
            throw new StoreFailedException(e.getCause());
        }
    }

    /** The group's transaction failed (the database's exception is the cause); nothing of it was stored. */
    public static final class StoreFailedException extends RuntimeException {
        StoreFailedException(Throwable cause) {
            super("the job could not be stored: " + cause.getMessage(), cause);
        }
    }

    private synchronized BlockingQueue<Pending> queue() {
        if (queue == null) {
            queue = new ArrayBlockingQueue<>(config.submitQueue());
            committers = Executors.newFixedThreadPool(config.submitCommitters(), Threads.daemon("submit-commit"));
            for (int i = 0; i < config.submitCommitters(); i++) {
                committers.execute(this::commitLoop);
            }
        }
        return queue;
    }

    synchronized void stop(@Observes ShutdownEvent event) {
        if (committers != null) {
            committers.shutdownNow();
            List<Pending> left = new ArrayList<>();
            queue.drainTo(left);
            left.forEach(p -> p.result().completeExceptionally(new IllegalStateException("the service is stopping")));
        }
    }

    private void commitLoop() {
        int max = config.submitBatch();
        while (!Thread.currentThread().isInterrupted()) {
            List<Pending> group = new ArrayList<>(max);
            try {
                group.add(queue.take());
            } catch (InterruptedException e) {
                return;
            }
            queue.drainTo(group, max - 1);
            List<Pending> stored = new ArrayList<>(group.size());
            List<Pending> rehearsals = new ArrayList<>();
            for (Pending p : group) {
                (isRehearsal(p.job().tenant) ? rehearsals : stored).add(p);
            }
            commitOrFail(stored, true);
            commitOrFail(rehearsals, false);
        }
    }

    private void commitOrFail(List<Pending> group, boolean durable) {
        if (group.isEmpty()) {
            return;
        }
        try {
            commit(group, durable);
        } catch (Throwable e) {
            // the futures carry the failure to each caller, who answers it (a 503 for a database away)
            LOG.debugf("a group of %d submits failed: %s", group.size(), e);
            group.forEach(p -> p.result().completeExceptionally(e));
        }
    }

    /**
     * One group's transaction, committed or (a rehearsal) rolled back; completes each of its futures (a failure is
     * thrown, and none of them completed).
     */
    private void commit(List<Pending> group, boolean durable) throws SQLException {
        Map<String, List<Pending>> byTenant = new TreeMap<>();
        group.forEach(p -> byTenant.computeIfAbsent(p.job().tenant, t -> new ArrayList<>()).add(p));
        Map<Pending, Quotas.QuotaExceededException> refused = new IdentityHashMap<>();
        List<Pending> admitted = new ArrayList<>();
        Set<UUID> inserted = new HashSet<>();
        Stored stored = Transactions.run(dataSource, durable, c -> {
            Map<String, Quotas.Standing> standings = quotas.lock(c, new TreeSet<>(byTenant.keySet()));
            byTenant.forEach((tenant, jobs) -> {
                List<Quotas.QuotaExceededException> decided = quotas.decide(tenant, standings.get(tenant), jobs.size());
                for (int i = 0; i < jobs.size(); i++) {
                    if (decided.get(i) == null) {
                        admitted.add(jobs.get(i));
                    } else {
                        refused.put(jobs.get(i), decided.get(i));
                    }
                }
            });
            if (admitted.isEmpty()) {
                return new Stored(false, false);
            }
            inserted.addAll(insert(c, admitted));
            List<Pending> kept = admitted.stream().filter(p -> inserted.contains(p.job().id)).toList();
            List<Pending> released = kept.stream().filter(p -> !p.job().held).toList();
            writeOutbox(c, released);
            List<Pending> held = kept.stream().filter(p -> p.job().held).toList();
            Set<String> withRoom = new TreeSet<>(held.stream().map(p -> p.job().model).filter(dispatcher::hasRoom).toList());
            Set<UUID> releasedNow = withRoom.isEmpty() ? Set.of() : dispatcher.releaseWithin(c, withRoom);
            held.forEach(p -> p.job().held = !releasedNow.contains(p.job().id));
            Map<String, Integer> charged = new HashMap<>();
            kept.forEach(p -> charged.merge(p.job().tenant, 1, Integer::sum));
            quotas.charge(c, charged);
            return new Stored(!released.isEmpty() || !releasedNow.isEmpty(), held.stream().anyMatch(p -> p.job().held));
        });
        if (durable && stored.outbox()) {
            outboxWritten.fire(new JobStore.OutboxWritten());
        }
        if (durable && stored.held()) {
            dispatchDue.fire(new JobStore.DispatchDue());
        }
        for (Pending p : group) {
            Quotas.QuotaExceededException refusal = refused.get(p);
            if (refusal != null) {
                p.result().completeExceptionally(refusal);
            } else if (inserted.contains(p.job().id)) {
                p.result().complete(p.job());
            } else {
                p.result().completeExceptionally(new EntityExistsException("tenant " + p.job().tenant
                        + " already has a job with Idempotency-Key " + p.job().idempotencyKey));
            }
        }
    }

    /** Inserts the jobs in one statement; the ids of those inserted (not those whose idempotency key was taken). */
    private static Set<UUID> insert(Connection c, List<Pending> jobs) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("""
                insert into job (id, tenant, model, status, params, idempotency_key, request_hash, total_steps, created_at,
                                 priority, held, webhook_url, webhook_events)
                select id, tenant, model, 'QUEUED', params::jsonb, idempotency_key, request_hash, total_steps, created_at,
                       priority, held, webhook_url, webhook_events
                  from unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::timestamptz[],
                              ?::int[], ?::boolean[], ?::text[], ?::text[])
                       as r(id, tenant, model, params, idempotency_key, request_hash, total_steps, created_at,
                            priority, held, webhook_url, webhook_events)
                on conflict (tenant, idempotency_key) where idempotency_key is not null do nothing
                returning id""")) {
            s.setArray(1, c.createArrayOf("text", jobs.stream().map(p -> p.job().id.toString()).toArray()));
            s.setArray(2, c.createArrayOf("text", jobs.stream().map(p -> p.job().tenant).toArray()));
            s.setArray(3, c.createArrayOf("text", jobs.stream().map(p -> p.job().model).toArray()));
            s.setArray(4, c.createArrayOf("text", jobs.stream().map(p -> p.job().params).toArray()));
            s.setArray(5, c.createArrayOf("text", jobs.stream().map(p -> p.job().idempotencyKey).toArray()));
            s.setArray(6, c.createArrayOf("text", jobs.stream().map(p -> p.job().requestHash).toArray()));
            s.setArray(7, c.createArrayOf("int4", jobs.stream().map(p -> p.job().totalSteps).toArray()));
            s.setArray(8, c.createArrayOf("text", jobs.stream().map(p -> p.job().createdAt.toString()).toArray()));
            s.setArray(9, c.createArrayOf("int4", jobs.stream().map(p -> p.job().priority).toArray()));
            s.setArray(10, c.createArrayOf("bool", jobs.stream().map(p -> p.job().held).toArray()));
            s.setArray(11, c.createArrayOf("text", jobs.stream().map(p -> p.job().webhookUrl).toArray()));
            s.setArray(12, c.createArrayOf("text", jobs.stream().map(p -> p.job().webhookEvents).toArray()));
            Set<UUID> ids = new HashSet<>();
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    ids.add(r.getObject(1, UUID.class));
                }
            }
            return ids;
        }
    }

    /** The outbox records of jobs released at once (fair scheduling off), in the same transaction. */
    private static void writeOutbox(Connection c, List<Pending> jobs) throws SQLException {
        OutboxMessage.insert(c, jobs.stream()
                .map(p -> OutboxMessage.of(p.topic(), p.job().id, p.recordPayload(), p.job().createdAt)).toList());
    }
}

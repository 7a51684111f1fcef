package io.denoise.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.recipe.GenerationRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.StringJoiner;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The only writer of job status. Every write is one short transaction and a conditional update that encodes the
 * legal transition ({@link JobStatus#sourcesOf}); a worker's writes are fenced by its attempt number, so a worker
 * that lost its claim cannot overwrite the job.
 */
@ApplicationScoped
public class JobStore implements JobAttempts {

    /** Fired inside the submitting transaction; observers act after it commits. */
    public record OutboxWritten() {
    }

    /**
     * Fired when jobs were stored held, or one was claimed (which leaves room ahead of the workers): the
     * dispatcher runs a round once the transaction has committed ({@link FairDispatcher}).
     */
    public record DispatchDue() {
    }

    /** Thrown when an {@code Idempotency-Key} is reused with a different request body. */
    public static final class IdempotencyConflictException extends RuntimeException {
        public IdempotencyConflictException(String key) {
            super("Idempotency-Key '" + key + "' was used with a different request");
        }
    }

    /** How the service treats a job beside generating it: how soon it starts, and where its events are posted. */
    public record Handling(Priority priority, Webhook webhook) {
    }

    /**
     * Where a job's events are posted, and which: {@code started}, {@code progress}, {@code completed}.
     *
     * @param url    the checked target
     * @param events a non-empty subset of {@link #EVENTS}, in that order
     */
    public record Webhook(String url, List<String> events) {

        /** The events a job may want, in the order they happen. */
        public static final List<String> EVENTS = List.of("started", "progress", "completed");

        public Webhook {
            events = List.copyOf(events);
        }

        /** A job's webhook as stored, or null. */
        public static Webhook of(Job job) {
            return job.webhookUrl == null ? null : new Webhook(job.webhookUrl, List.of(job.webhookEvents.split(",")));
        }
    }

    /** Failure code of a job whose attempts all died without finishing. */
    public static final String ATTEMPTS_EXHAUSTED = "ATTEMPTS_EXHAUSTED";

    /** How a cancel request went. */
    public enum CancelOutcome { CANCELLED, REQUESTED, ALREADY_FINISHED, NOT_FOUND }

    @Inject
    EntityManager em;

    @Inject
    ObjectMapper json;

    @Inject
    Event<OutboxWritten> outboxWritten;

    @Inject
    Event<DispatchDue> dispatchDue;

    @Inject
    SubmitBatcher batcher;

    @Inject
    SchedulingConfig scheduling;

    /**
     * Stores a new QUEUED job, if the tenant's quotas admit it ({@link Quotas.QuotaExceededException} otherwise, and
     * nothing is stored): held for {@link FairDispatcher} under fair scheduling, else with its outbox record. It is
     * stored with the other submits of the moment in one transaction ({@link SubmitBatcher}). An idempotency key
     * already taken throws {@link jakarta.persistence.EntityExistsException}; the caller looks the key up before and
     * after.
     */
    public Job submit(String tenant, UUID id, String model, GenerationRequest params, Handling handling, String idempotencyKey,
                      String requestHash, String topic, String recordPayload) {
        return batcher.submit(newJob(tenant, id, model, params, handling, idempotencyKey, requestHash, null, null),
                topic, recordPayload);
    }

    /** {@link #submit} for a cell of a sweep (the sweep's row written first, in the same transaction), not yet admitted. */
    @Transactional
    Job submit(String tenant, UUID id, String model, GenerationRequest params, Handling handling, String idempotencyKey,
               String requestHash, String topic, String recordPayload, UUID sweepId, Integer sweepCell) {
        Job job = newJob(tenant, id, model, params, handling, idempotencyKey, requestHash, sweepId, sweepCell);
        job.persist();
        if (!job.held) {
            OutboxMessage.of(topic, id, recordPayload, job.createdAt).persist();
        }
        em.flush();
        if (job.held) {
            dispatchDue.fire(new DispatchDue());
        } else {
            outboxWritten.fire(new OutboxWritten());
        }
        return job;
    }

    /** A new QUEUED job, not yet stored: held for the dispatcher under fair scheduling. */
    private Job newJob(String tenant, UUID id, String model, GenerationRequest params, Handling handling, String idempotencyKey,
                       String requestHash, UUID sweepId, Integer sweepCell) {
        Job job = new Job();
        job.tenant = tenant;
        job.priority = handling.priority().rank();
        job.held = scheduling.fair();
        if (handling.webhook() != null) {
            job.webhookUrl = handling.webhook().url();
            job.webhookEvents = String.join(",", handling.webhook().events());
        }
        job.sweepId = sweepId;
        job.sweepCell = sweepCell;
        job.id = id;
        job.model = model;
        job.status = JobStatus.QUEUED;
        job.params = write(params);
        job.idempotencyKey = idempotencyKey;
        job.requestHash = requestHash;
        job.totalSteps = params.numInferenceSteps();
        job.createdAt = Instant.now().truncatedTo(ChronoUnit.MICROS);  // as PostgreSQL keeps it
        return job;
    }

    /** Finds a tenant's job by its idempotency key (after a concurrent submit with the same key won the race). */
    @Transactional
    public Optional<Job> findByIdempotencyKey(String tenant, String key) {
        return Job.find("tenant = ?1 and idempotencyKey = ?2", tenant, key).firstResultOptional();
    }

    /**
     * Claims a job for a worker: QUEUED, or RUNNING with an expired lease → RUNNING, attempt + 1, lease until
     * now + {@code lease}, remembering the record's delivery count. A job whose cancellation was requested is
     * moved to CANCELLED instead, and one that already had {@code maxAttempts} attempts (each died without
     * finishing) to FAILED with {@link #ATTEMPTS_EXHAUSTED}.
     */
    @Transactional
    @Override
    public Claim claim(UUID id, String workerId, Duration lease, int deliveries, int maxAttempts) {
        int updated = em.createNativeQuery("""
                        update job set status = 'RUNNING', attempt = attempt + 1, worker_id = :worker,
                               lease_until = now() + make_interval(secs => :lease), step = 0,
                               started_at = coalesce(started_at, now()), deliveries = :deliveries
                         where id = :id and not cancel_requested and attempt < :maxAttempts
                           and (status = 'QUEUED' or (status = 'RUNNING' and lease_until < now()))""")
                .setParameter("worker", workerId)
                .setParameter("lease", lease.toMillis() / 1000.0)
                .setParameter("deliveries", deliveries)
                .setParameter("id", id)
                .setParameter("maxAttempts", maxAttempts)
                .executeUpdate();
        Job job = Job.findById(id);
        if (job == null) {
            return new Claim(ClaimOutcome.MISSING, null);
        }
        if (updated == 1) {
            dispatchDue.fire(new DispatchDue());
            return new Claim(ClaimOutcome.CLAIMED, job);
        }
        if (job.status.isTerminal()) {
            return new Claim(ClaimOutcome.FINISHED, job);
        }
        if (job.cancelRequested) {
            int cancelled = finish(id, null, JobStatus.CANCELLED, null, null, true);
            em.refresh(job);
            return new Claim(cancelled == 1 ? ClaimOutcome.CANCELLED : ClaimOutcome.HELD, job);
        }
        if (job.attempt >= maxAttempts) {
            int failed = finish(id, null, JobStatus.FAILED, ATTEMPTS_EXHAUSTED, exhaustedMessage(job.attempt), true);
            em.refresh(job);
            return new Claim(failed == 1 ? ClaimOutcome.EXHAUSTED : ClaimOutcome.HELD, job);
        }
        return new Claim(ClaimOutcome.HELD, job);
    }

    /** The message of a job failed with {@link #ATTEMPTS_EXHAUSTED}. */
    public static String exhaustedMessage(int attempts) {
        return attempts + " attempts started and none finished (the worker died or lost the job each time)";
    }

    /** Where the relay published a job's record. */
    public record Dispatch(int partition, long offset) {
    }

    /** Remembers which record carries each job, in the relay's transaction. */
    @Transactional
    public void recordDispatched(Map<UUID, Dispatch> dispatches) {
        if (dispatches.isEmpty()) {
            return;
        }
        StringJoiner ids = new StringJoiner(",");
        StringJoiner partitions = new StringJoiner(",");
        StringJoiner offsets = new StringJoiner(",");
        dispatches.forEach((id, d) -> {
            ids.add(id.toString());
            partitions.add(Integer.toString(d.partition()));
            offsets.add(Long.toString(d.offset()));
        });
        em.createNativeQuery("""
                        update job j set dispatched_at = now(), record_partition = d.part, record_offset = d.off
                          from (select unnest(string_to_array(:ids, ','))::uuid as id,
                                       unnest(string_to_array(:partitions, ','))::integer as part,
                                       unnest(string_to_array(:offsets, ','))::bigint as off) d
                         where j.id = d.id""")
                .setParameter("ids", ids.toString())
                .setParameter("partitions", partitions.toString())
                .setParameter("offsets", offsets.toString())
                .executeUpdate();
    }

    /** What recovery does with one stranded job. */
    public sealed interface Recovery {
        /** Its record may still be delivered: leave it. */
        record Leave() implements Recovery {
        }

        /** Publish a new record for it (through the outbox). */
        record Redrive(String topic, String payload) implements Recovery {
        }

        /** End it as FAILED. */
        record Fail(String code, String message) implements Recovery {
        }
    }

    /** A job recovery acted on. */
    public record Recovered(UUID id, int attempt, Recovery action) {
    }

    /**
     * Finds jobs that look stranded — QUEUED, or RUNNING with a lease that lapsed more than {@code staleAfter}
     * ago, last dispatched more than {@code staleAfter} ago and with no record waiting in the outbox — and applies
     * {@code decide} to each, in one transaction that locks them ({@code FOR UPDATE SKIP LOCKED}, so several
     * API replicas share the work).
     *
     * @return the jobs that were re-driven or failed
     */
    @Transactional
    public List<Recovered> recoverStranded(Duration staleAfter, int limit, Function<Job, Recovery> decide) {
        @SuppressWarnings("unchecked")
        List<Job> candidates = em.createNativeQuery("""
                        select * from job j
                         where j.status in ('QUEUED', 'RUNNING') and not (j.held and j.status = 'QUEUED')
                           and coalesce(j.dispatched_at, j.created_at) < now() - make_interval(secs => :stale)
                           and (j.status = 'QUEUED' or j.lease_until is null
                                or j.lease_until < now() - make_interval(secs => :stale))
                           and not exists (select 1 from outbox o where o.record_key = j.id::text)
                         order by coalesce(j.dispatched_at, j.created_at)
                         limit :limit for update of j skip locked""", Job.class)
                .setParameter("stale", staleAfter.toMillis() / 1000.0)
                .setParameter("limit", limit)
                .getResultList();
        List<Recovered> acted = new ArrayList<>();
        for (Job job : candidates) {
            Recovery action = decide.apply(job);
            if (action instanceof Recovery.Redrive redrive) {
                em.createNativeQuery("update job set redrives = redrives + 1, dispatched_at = now() where id = :id")
                        .setParameter("id", job.id).executeUpdate();
                OutboxMessage.of(redrive.topic(), job.id, redrive.payload(), Instant.now()).persist();
                acted.add(new Recovered(job.id, job.attempt, action));
            } else if (action instanceof Recovery.Fail fail
                    && finish(job.id, null, JobStatus.FAILED, fail.code(), fail.message(), true) == 1) {
                acted.add(new Recovered(job.id, job.attempt, action));
            }
        }
        if (acted.stream().anyMatch(r -> r.action() instanceof Recovery.Redrive)) {
            em.flush();
            outboxWritten.fire(new OutboxWritten());
        }
        return acted;
    }

    /** Records progress of a running attempt. */
    @Transactional
    @Override
    public Heartbeat progress(UUID id, int attempt, int step, int totalSteps) {
        return heartbeat(em.createNativeQuery("""
                        update job set step = :step, total_steps = :total
                         where id = :id and attempt = :attempt and status = 'RUNNING'
                        returning cancel_requested""")
                .setParameter("step", step)
                .setParameter("total", totalSteps)
                .setParameter("id", id)
                .setParameter("attempt", attempt)
                .getResultList());
    }

    /** Extends a running attempt's lease to now + {@code lease}. */
    @Transactional
    @Override
    public Heartbeat renewLease(UUID id, int attempt, Duration lease) {
        return heartbeat(em.createNativeQuery("""
                        update job set lease_until = now() + make_interval(secs => :lease)
                         where id = :id and attempt = :attempt and status = 'RUNNING'
                        returning cancel_requested""")
                .setParameter("lease", lease.toMillis() / 1000.0)
                .setParameter("id", id)
                .setParameter("attempt", attempt)
                .getResultList());
    }

    /** Ends a running attempt's lease now, so another worker may take the job over at once. */
    @Transactional
    @Override
    public boolean releaseLease(UUID id, int attempt) {
        return em.createNativeQuery("""
                        update job set lease_until = now()
                         where id = :id and attempt = :attempt and status = 'RUNNING'""")
                .setParameter("id", id)
                .setParameter("attempt", attempt)
                .executeUpdate() == 1;
    }

    /** RUNNING → SUCCEEDED with its images and its step count, if {@code attempt} still holds the job. */
    @Transactional
    @Override
    public boolean succeed(UUID id, int attempt, int totalSteps, List<JobImage> images) {
        return em.createNativeQuery("""
                        update job set status = 'SUCCEEDED', images = cast(:images as jsonb), step = :total,
                               total_steps = :total, finished_at = now(), lease_until = null
                         where id = :id and attempt = :attempt and status in (%s)""".formatted(sources(JobStatus.SUCCEEDED)))
                .setParameter("images", write(images))
                .setParameter("total", totalSteps)
                .setParameter("id", id)
                .setParameter("attempt", attempt)
                .executeUpdate() == 1;
    }

    /** → FAILED with a reason, if {@code attempt} still holds the job. */
    @Transactional
    @Override
    public boolean fail(UUID id, int attempt, String code, String message) {
        return finish(id, attempt, JobStatus.FAILED, code, message, false) == 1;
    }

    /**
     * → FAILED for a job no worker holds (QUEUED, or RUNNING with an expired lease): its record could not be
     * processed.
     */
    @Transactional
    @Override
    public boolean failUnclaimed(UUID id, String code, String message) {
        return finish(id, null, JobStatus.FAILED, code, message, true) == 1;
    }

    /** RUNNING → CANCELLED, if {@code attempt} still holds the job. */
    @Transactional
    @Override
    public boolean cancelled(UUID id, int attempt) {
        return finish(id, attempt, JobStatus.CANCELLED, null, null, false) == 1;
    }

    /**
     * A user's cancel: a QUEUED job is CANCELLED at once; a RUNNING one is marked, and its worker stops it.
     */
    @Transactional
    public CancelOutcome requestCancel(UUID id) {
        int queued = em.createNativeQuery("""
                        update job set status = 'CANCELLED', cancel_requested = true, finished_at = now()
                         where id = :id and status = 'QUEUED'""")
                .setParameter("id", id)
                .executeUpdate();
        if (queued == 1) {
            return CancelOutcome.CANCELLED;
        }
        int running = em.createNativeQuery("""
                        update job set cancel_requested = true where id = :id and status = 'RUNNING'""")
                .setParameter("id", id)
                .executeUpdate();
        if (running == 1) {
            return CancelOutcome.REQUESTED;
        }
        Job job = Job.findById(id);
        return job == null ? CancelOutcome.NOT_FOUND : CancelOutcome.ALREADY_FINISHED;
    }

    /**
     * The jobs of its model that start before this queued one: under fair scheduling, the order the dispatcher
     * releases in (priority, then tenants in turn); otherwise those submitted before it.
     */
    @Transactional
    public long queuePosition(Job job) {
        if (!job.held) {
            return ((Number) em.createNativeQuery("""
                            select count(*) from job
                             where model = :model and status = 'QUEUED' and not held and (created_at, id) < (:at, :id)""")
                    .setParameter("model", job.model).setParameter("at", job.createdAt).setParameter("id", job.id)
                    .getSingleResult()).longValue();
        }
        // held: behind every released job, every held one of a higher priority, its own tenant's older ones, and, as
        // tenants take turns, as many of each other tenant's (of its priority) as its own before it, plus one
        return ((Number) em.createNativeQuery("""
                        with mine as (
                            select count(*) as r from job
                             where model = :model and status = 'QUEUED' and held and priority = :priority
                               and tenant = :tenant and (created_at, id) < (:at, :id))
                        select (select count(*) from job where model = :model and status = 'QUEUED' and not held)
                             + (select count(*) from job where model = :model and status = 'QUEUED' and held and priority > :priority)
                             + (select r from mine)
                             + coalesce((select sum(least(n, (select r from mine) + 1)) from (
                                   select count(*) as n from job
                                    where model = :model and status = 'QUEUED' and held and priority = :priority
                                      and tenant <> :tenant
                                    group by tenant) others), 0)""")
                .setParameter("model", job.model).setParameter("priority", job.priority).setParameter("tenant", job.tenant)
                .setParameter("at", job.createdAt).setParameter("id", job.id).getSingleResult()).longValue();
    }

    @Transactional
    public Optional<Job> find(UUID id) {
        return Job.findByIdOptional(id);
    }

    /** A job of {@code tenant}: another tenant's job is as absent as one that never existed. */
    @Transactional
    public Optional<Job> find(String tenant, UUID id) {
        return Job.<Job>findByIdOptional(id).filter(job -> job.tenant.equals(tenant));
    }

    /** A page of a tenant's jobs, newest first, after the job {@code (afterCreatedAt, afterId)} when given. */
    @Transactional
    public List<Job> list(String tenant, JobStatus status, Instant afterCreatedAt, UUID afterId, int limit) {
        StringBuilder where = new StringBuilder("tenant = :tenant");
        var params = new HashMap<String, Object>();
        params.put("tenant", tenant);
        if (status != null) {
            where.append(" and status = :status");
            params.put("status", status);
        }
        if (afterCreatedAt != null) {
            where.append(" and (createdAt < :at or (createdAt = :at and id < :id))");
            params.put("at", afterCreatedAt);
            params.put("id", afterId);
        }
        return Job.find(where + " order by createdAt desc, id desc", params).page(0, limit).list();
    }

    /** The parameters of a job. */
    @Override
    public GenerationRequest parameters(Job job) {
        try {
            return json.readValue(job.params, GenerationRequest.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("job " + job.id + " has unreadable parameters", e);
        }
    }

    /** The images of a finished job (empty before). */
    public List<JobImage> images(Job job) {
        if (job.images == null) {
            return List.of();
        }
        try {
            return json.readValue(job.images, new TypeReference<List<JobImage>>() { });
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("job " + job.id + " has unreadable images", e);
        }
    }

    /**
     * Moves a job to a terminal state: guarded by {@code attempt} when given, else (with {@code unclaimedOnly})
     * only while no worker holds it.
     */
    private int finish(UUID id, Integer attempt, JobStatus target, String code, String message, boolean unclaimedOnly) {
        String guard = attempt != null ? "attempt = :attempt and status in (" + sources(target) + ")"
                : unclaimedOnly ? "(status = 'QUEUED' or (status = 'RUNNING' and (lease_until is null or lease_until < now())))"
                : "status in (" + sources(target) + ")";
        var query = em.createNativeQuery("""
                        update job set status = :status, error_code = cast(:code as varchar), error_message = cast(:message as text),
                               finished_at = now(), lease_until = null
                         where id = :id and %s""".formatted(guard))
                .setParameter("status", target.name())
                .setParameter("code", code)
                .setParameter("message", message)
                .setParameter("id", id);
        if (attempt != null) {
            query.setParameter("attempt", attempt);
        }
        return query.executeUpdate();
    }

    private static Heartbeat heartbeat(List<?> rows) {
        if (rows.isEmpty()) {
            return Heartbeat.LOST;
        }
        return Boolean.TRUE.equals(rows.get(0)) ? Heartbeat.CANCEL_REQUESTED : Heartbeat.CONTINUE;
    }

    private static String sources(JobStatus target) {
        return JobStatus.sourcesOf(target).stream().map(s -> "'" + s.name() + "'").collect(Collectors.joining(", "));
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}

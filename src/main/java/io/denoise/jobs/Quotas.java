package io.denoise.jobs;

import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Admission. Before anything is stored: a job no larger than its tenant may ask for ({@link #checkSize}), and a
 * model whose queue the workers can clear within {@code denoise.admission.max-queue-wait} (read from the last
 * {@link QueueMetrics} refresh, so it costs no query). Then by tenant, at the end of the submit's transaction, in one
 * statement ({@link #admit}): the submit rate (a token bucket row per tenant, refilled by elapsed time) and the jobs
 * queued or running (the tenant's {@code tenant_usage} row, which a trigger keeps on every other write that moves a
 * job in or out of QUEUED and RUNNING). A refusal rolls the whole submit back (its token and its count too).
 */
@ApplicationScoped
public class Quotas {

    /** Why a submit was refused, with how long to wait. */
    public static final class QuotaExceededException extends RuntimeException {
        private final String error;
        private final long retryAfterSeconds;

        QuotaExceededException(String error, String message, long retryAfterSeconds) {
            super(message);
            this.error = error;
            this.retryAfterSeconds = retryAfterSeconds;
        }

        /**
         * {@code quota_exceeded} (the tenant's jobs queued or running) or {@code rate_limited}, both the tenant's
         * doing (429), or {@code over_capacity}: the service has more queued than it can serve in time (503).
         */
        public String error() {
            return error;
        }

        public boolean overCapacity() {
            return error.equals(OVER_CAPACITY);
        }

        public long retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }

    static final String OVER_CAPACITY = "over_capacity";
    static final String QUOTA_EXCEEDED = "quota_exceeded";
    static final String RATE_LIMITED = "rate_limited";

    @Inject
    EntityManager em;

    @Inject
    QuotaConfig config;

    @Inject
    AdmissionConfig admission;

    @Inject
    QueueMetrics queues;

    @Inject
    MeterRegistry metrics;

    /**
     * Refuses a job larger than its tenant may ask for: more images than {@code max-images-per-job}, or more
     * steps × width × height × images than {@code max-step-pixels}.
     *
     * @throws InvalidRequestException naming {@code numImages} or {@code numInferenceSteps}
     */
    public void checkSize(String tenant, GenerationRequest r) {
        int images = config.maxImagesPerJob(tenant);
        if (r.numImages() > images) {
            count(tenant, "images");
            throw new InvalidRequestException("numImages", "must be at most " + images + " for tenant " + tenant);
        }
        long work = (long) r.numInferenceSteps() * r.width() * r.height() * r.numImages();
        long cap = config.maxStepPixels(tenant);
        if (work > cap) {
            count(tenant, "step-pixels");
            throw new InvalidRequestException("numInferenceSteps", String.format(Locale.ROOT,
                    "× width × height × numImages is %d (%d × %d × %d × %d), more than tenant %s's %d per job",
                    work, r.numInferenceSteps(), r.width(), r.height(), r.numImages(), tenant, cap));
        }
    }

    /**
     * Refuses {@code jobs} more jobs of {@code model} while its queue would take the workers longer than
     * {@code denoise.admission.max-queue-wait} to clear.
     *
     * @throws QuotaExceededException {@code over_capacity}, with the time until the queue is short enough again
     */
    public void checkCapacity(String tenant, String model, int jobs) {
        QueueMetrics.ModelQueue queue = queues.queue(model);
        if (queue == null) {
            return;
        }
        OptionalLong wait = overCapacity(queue, jobs, admission);
        if (wait.isPresent()) {
            count(tenant, "capacity");
            throw new QuotaExceededException(OVER_CAPACITY, String.format(Locale.ROOT,
                    "model %s has %d jobs queued and its workers finish %.2f per second: a new job would wait longer "
                            + "than %d s", model, queue.queued(), queue.clearRate(), admission.maxQueueWait().toSeconds()),
                    wait.getAsLong());
        }
    }

    /**
     * The seconds to wait before {@code queue} can take {@code jobs} more within the configured wait, or empty if it
     * can now: a queue under {@code min-queued} always can; one no worker cleared any of within the window waits
     * {@code retry-after}.
     */
    static OptionalLong overCapacity(QueueMetrics.ModelQueue queue, int jobs, AdmissionConfig config) {
        double maxWait = config.maxQueueWait().toMillis() / 1000.0;
        long queued = queue.queued() + jobs;
        if (maxWait <= 0 || queued < config.minQueued()) {
            return OptionalLong.empty();
        }
        double rate = queue.clearRate();
        if (rate <= 0) {
            return OptionalLong.of(Math.max(1, config.retryAfter().toSeconds()));
        }
        double wait = queued / rate;
        if (wait <= maxWait) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(Math.max(1, (long) Math.ceil(wait - maxWait)));
    }

    /**
     * Counts jobs accepted for {@code tenant} ({@code denoise_jobs_submitted_total{tenant}}), once they are stored;
     * a warm-up's rehearsals are not counted.
     */
    public void submitted(String tenant, int jobs) {
        if (SubmitBatcher.isRehearsal(tenant)) {
            return;
        }
        metrics.counter("denoise_jobs_submitted", "tenant", tenant).increment(jobs);
    }

    /**
     * Opens admission in the caller's transaction, before its jobs are inserted: the usage trigger leaves them to
     * {@link #admit}, which counts them in the same statement that checks the limits.
     */
    void prepare() {
        em.createNativeQuery("select set_config('denoise.admitting', 'on', true)").getSingleResult();
    }

    /**
     * Admits {@code jobs} more jobs of {@code tenant}, already written in the caller's transaction (opened by
     * {@link #prepare}), or throws. One statement takes the tokens from the tenant's bucket and adds the jobs to its
     * usage row; both rows stay locked from there to the commit, so the next submit of this tenant, on any replica,
     * sees this one's count, and the count is exact.
     */
    void admit(String tenant, int jobs) {
        double rate = config.submitRate(tenant);
        int burst = config.submitBurst(tenant);
        if (jobs > burst) {
            reject(tenant, "rate", new QuotaExceededException(RATE_LIMITED, jobs + " jobs at once is more than tenant "
                    + tenant + "'s burst of " + burst, Math.max(1, (long) Math.ceil(jobs / Math.max(rate, 1e-9)))));
        }
        Object[] admitted = (Object[]) em.createNativeQuery("""
                        with bucket as (
                            insert into tenant_bucket (tenant, tokens, at)
                            values (:tenant, :burst - :jobs, clock_timestamp())
                            on conflict (tenant) do update
                               set tokens = least(:burst, tenant_bucket.tokens
                                              + extract(epoch from clock_timestamp() - tenant_bucket.at) * :rate) - :jobs,
                                   at = clock_timestamp()
                             where least(:burst, tenant_bucket.tokens
                                       + extract(epoch from clock_timestamp() - tenant_bucket.at) * :rate) >= :jobs
                            returning tokens),
                        usage as (
                            insert into tenant_usage as u (tenant, active) values (:tenant, :count)
                            on conflict (tenant) do update set active = u.active + :count
                            returning active)
                        select (select count(*) from bucket), (select active from usage)""")
                .setParameter("tenant", tenant).setParameter("burst", (double) burst)
                .setParameter("rate", rate).setParameter("jobs", (double) jobs).setParameter("count", jobs)
                .getSingleResult();
        if (((Number) admitted[0]).intValue() == 0) {
            Number tokens = (Number) em.createNativeQuery("""
                            select least(:burst, tokens + extract(epoch from clock_timestamp() - at) * :rate)
                              from tenant_bucket where tenant = :tenant""")
                    .setParameter("tenant", tenant).setParameter("burst", (double) burst).setParameter("rate", rate)
                    .getResultList().stream().findFirst().orElse(0.0);
            long wait = rate <= 0 ? Long.MAX_VALUE : (long) Math.ceil((jobs - tokens.doubleValue()) / rate);
            reject(tenant, "rate", new QuotaExceededException(RATE_LIMITED, "tenant " + tenant + " submits more than "
                    + rate + " jobs per second (burst " + burst + ")", Math.max(1, wait)));
        }
        long active = ((Number) admitted[1]).longValue();
        int max = config.maxActiveJobs(tenant);
        if (active > max) {
            reject(tenant, "active", new QuotaExceededException(QUOTA_EXCEEDED, "tenant " + tenant + " may have "
                    + max + " jobs queued or running; this would make " + active, config.retryAfter().toSeconds()));
        }
    }

    /** A tenant's standing as a group of its submits begins: the tokens in its bucket now, its jobs queued or running. */
    record Standing(double tokens, long active) {
    }

    /**
     * The tenants' standings, their bucket and usage rows locked (in tenant order, so that two groups never wait
     * for each other) until the caller's transaction ends. Opens admission in that transaction as {@link #prepare}
     * does. A tenant without rows yet gets them (a full bucket, no jobs).
     */
    Map<String, Standing> lock(Connection c, SortedSet<String> tenants) throws SQLException {
        Map<String, Standing> standings = readLocked(c, tenants);
        if (standings.size() < tenants.size()) {
            List<String> missing = tenants.stream().filter(t -> !standings.containsKey(t)).toList();
            try (PreparedStatement s = c.prepareStatement("""
                    with b as (insert into tenant_bucket (tenant, tokens, at)
                               select t, burst, clock_timestamp() from unnest(?::text[], ?::float8[]) r(t, burst)
                               on conflict (tenant) do nothing)
                    insert into tenant_usage (tenant, active) select t, 0 from unnest(?::text[]) t
                    on conflict (tenant) do nothing""")) {
                s.setArray(1, c.createArrayOf("text", missing.toArray()));
                s.setArray(2, c.createArrayOf("float8", missing.stream().map(t -> (double) config.submitBurst(t)).toArray()));
                s.setArray(3, c.createArrayOf("text", missing.toArray()));
                s.executeUpdate();
            }
            standings.putAll(readLocked(c, new TreeSet<>(missing)));
        }
        return standings;
    }

    private Map<String, Standing> readLocked(Connection c, SortedSet<String> tenants) throws SQLException {
        Map<String, Standing> out = new HashMap<>();
        try (PreparedStatement s = c.prepareStatement("""
                select b.tenant, least(r.burst, b.tokens + extract(epoch from clock_timestamp() - b.at) * r.rate), u.active,
                       set_config('denoise.admitting', 'on', true)
                  from unnest(?::text[], ?::float8[], ?::float8[]) r(tenant, burst, rate)
                  join tenant_bucket b on b.tenant = r.tenant
                  join tenant_usage u on u.tenant = r.tenant
                 order by b.tenant
                   for update of b, u""")) {
            s.setArray(1, c.createArrayOf("text", tenants.toArray()));
            s.setArray(2, c.createArrayOf("float8", tenants.stream().map(t -> (double) config.submitBurst(t)).toArray()));
            s.setArray(3, c.createArrayOf("float8", tenants.stream().map(config::submitRate).toArray()));
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.put(r.getString(1), new Standing(r.getDouble(2), r.getLong(3)));
                }
            }
        }
        return out;
    }

    /**
     * Decides {@code jobs} submits of {@code tenant}, one at a time as {@link #admit} would: for each, null when
     * admitted, else the refusal (counted in {@code denoise_submits_rejected_total}).
     */
    List<QuotaExceededException> decide(String tenant, Standing standing, int jobs) {
        List<QuotaExceededException> out = decide(tenant, standing, jobs, config.submitRate(tenant),
                config.submitBurst(tenant), config.maxActiveJobs(tenant), config.retryAfter().toSeconds());
        out.stream().filter(e -> e != null).forEach(e -> count(tenant, e.error().equals(QUOTA_EXCEEDED) ? "active" : "rate"));
        return out;
    }

    /**
     * {@link #decide(String, Standing, int)}'s arithmetic: a job needs a whole token left in the bucket and room
     * under {@code max} jobs queued or running; the ones admitted before it count against both.
     */
    static List<QuotaExceededException> decide(String tenant, Standing standing, int jobs, double rate, int burst, int max,
                                               long retryAfterSeconds) {
        List<QuotaExceededException> out = new ArrayList<>(jobs);
        int admitted = 0;
        for (int i = 0; i < jobs; i++) {
            double tokens = standing.tokens() - admitted;
            if (tokens < 1) {
                long wait = rate <= 0 ? Long.MAX_VALUE : (long) Math.ceil((1 - tokens) / rate);
                out.add(new QuotaExceededException(RATE_LIMITED, "tenant " + tenant + " submits more than "
                        + rate + " jobs per second (burst " + burst + ")", Math.max(1, wait)));
            } else if (standing.active() + admitted + 1 > max) {
                out.add(new QuotaExceededException(QUOTA_EXCEEDED, "tenant " + tenant + " may have " + max
                        + " jobs queued or running; this would make " + (standing.active() + admitted + 1),
                        retryAfterSeconds));
            } else {
                admitted++;
                out.add(null);
            }
        }
        return out;
    }

    /**
     * Takes a token and adds a job to the usage of each tenant for each job stored, in the transaction that
     * {@link #lock} locked their rows in.
     */
    void charge(Connection c, Map<String, Integer> stored) throws SQLException {
        List<String> tenants = stored.entrySet().stream().filter(e -> e.getValue() > 0).map(Map.Entry::getKey).sorted().toList();
        if (tenants.isEmpty()) {
            return;
        }
        try (PreparedStatement s = c.prepareStatement("""
                with r as (select * from unnest(?::text[], ?::float8[], ?::float8[], ?::int[]) r(tenant, burst, rate, n)),
                     b as (update tenant_bucket b
                              set tokens = least(r.burst, b.tokens + extract(epoch from clock_timestamp() - b.at) * r.rate) - r.n,
                                  at = clock_timestamp()
                             from r where b.tenant = r.tenant)
                update tenant_usage u set active = u.active + r.n from r where u.tenant = r.tenant""")) {
            s.setArray(1, c.createArrayOf("text", tenants.toArray()));
            s.setArray(2, c.createArrayOf("float8", tenants.stream().map(t -> (double) config.submitBurst(t)).toArray()));
            s.setArray(3, c.createArrayOf("float8", tenants.stream().map(config::submitRate).toArray()));
            s.setArray(4, c.createArrayOf("int4", tenants.stream().map(stored::get).toArray()));
            s.executeUpdate();
        }
    }

    private void reject(String tenant, String limit, QuotaExceededException e) {
        count(tenant, limit);
        throw e;
    }

    private void count(String tenant, String limit) {
        if (SubmitBatcher.isRehearsal(tenant)) {
            return;
        }
        metrics.counter("denoise_submits_rejected", "tenant", tenant, "limit", limit).increment();
    }
}

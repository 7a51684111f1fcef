package io.denoise.jobs;

import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;

import java.util.List;

/**
 * Admission by tenant, inside the submit's transaction, after its rows are written: first the submit rate (a token
 * bucket row per tenant, refilled by elapsed time in one statement), then the jobs queued or running, which a
 * trigger keeps in the tenant's {@code tenant_usage} row on every write that moves a job in or out of QUEUED and
 * RUNNING. The job's insert locks that row until the submit commits, so two submits of one tenant are admitted one
 * after the other on any replica and the count is exact, at the cost of one row read. A refusal rolls the whole
 * submit back (its token and its count too).
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

        /** {@code quota_exceeded} (jobs queued or running) or {@code rate_limited}. */
        public String error() {
            return error;
        }

        public long retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }

    @Inject
    EntityManager em;

    @Inject
    QuotaConfig config;

    @Inject
    MeterRegistry metrics;

    /** Admits {@code jobs} more jobs of {@code tenant}, already written in the caller's transaction, or throws. */
    void admit(String tenant, int jobs) {
        double rate = config.submitRate(tenant);
        int burst = config.submitBurst(tenant);
        if (jobs > burst) {
            reject(tenant, "rate", new QuotaExceededException("rate_limited", jobs + " jobs at once is more than tenant "
                    + tenant + "'s burst of " + burst, Math.max(1, (long) Math.ceil(jobs / Math.max(rate, 1e-9)))));
        }
        @SuppressWarnings("unchecked")
        List<Object> left = em.createNativeQuery("""
                        insert into tenant_bucket (tenant, tokens, at)
                        values (:tenant, :burst - :jobs, clock_timestamp())
                        on conflict (tenant) do update
                           set tokens = least(:burst, tenant_bucket.tokens
                                          + extract(epoch from clock_timestamp() - tenant_bucket.at) * :rate) - :jobs,
                               at = clock_timestamp()
                         where least(:burst, tenant_bucket.tokens
                                   + extract(epoch from clock_timestamp() - tenant_bucket.at) * :rate) >= :jobs
                        returning tokens""")
                .setParameter("tenant", tenant).setParameter("burst", (double) burst)
                .setParameter("rate", rate).setParameter("jobs", (double) jobs)
                .getResultList();
        if (left.isEmpty()) {
            Number tokens = (Number) em.createNativeQuery("""
                            select least(:burst, tokens + extract(epoch from clock_timestamp() - at) * :rate)
                              from tenant_bucket where tenant = :tenant""")
                    .setParameter("tenant", tenant).setParameter("burst", (double) burst).setParameter("rate", rate)
                    .getResultList().stream().findFirst().orElse(0.0);
            long wait = rate <= 0 ? Long.MAX_VALUE : (long) Math.ceil((jobs - tokens.doubleValue()) / rate);
            reject(tenant, "rate", new QuotaExceededException("rate_limited", "tenant " + tenant + " submits more than "
                    + rate + " jobs per second (burst " + burst + ")", Math.max(1, wait)));
        }
        // the job's insert made the trigger count it in tenant_usage, whose row this transaction now holds locked
        // until it commits: the next submit of this tenant, on any replica, reads the count after this one's
        long active = ((Number) em.createNativeQuery("select active from tenant_usage where tenant = :tenant")
                .setParameter("tenant", tenant).getSingleResult()).longValue();
        int max = config.maxActiveJobs(tenant);
        if (active > max) {
            reject(tenant, "active", new QuotaExceededException("quota_exceeded", "tenant " + tenant + " may have "
                    + max + " jobs queued or running; this would make " + active, config.retryAfter().toSeconds()));
        }
    }

    private void reject(String tenant, String limit, QuotaExceededException e) {
        metrics.counter("denoise_submits_rejected", "tenant", tenant, "limit", limit).increment();
        throw e;
    }
}

package io.denoise.webhooks;

import io.denoise.jobs.SqlValues;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * The durable deliveries ({@code webhook_delivery}), which a trigger writes as jobs start, step and end. A delivery
 * is taken by one replica at a time (its try's lease), only once every earlier delivery of its job has ended, so a
 * job's events reach the receiver in order.
 */
@ApplicationScoped
public class WebhookDeliveries {

    /** A delivery due, as taken. */
    public record Due(UUID id, UUID jobId, String tenant, String url, String type, int attempt, int step,
                      Instant createdAt, String payload, int tries) {
    }

    /** A job's deliveries, for its view. */
    public record Summary(long pending, long delivered, long failed, String lastError) {
    }

    @Inject
    EntityManager em;

    /** Takes up to {@code max} deliveries due, each the first unfinished one of its job, for {@code lease}. */
    @Transactional
    public List<Due> take(int max, Duration lease) {
        @SuppressWarnings("unchecked")
        List<Object[]> rows = em.createNativeQuery("""
                        with due as (
                            select d.id from webhook_delivery d
                             where d.state = 'PENDING' and d.next_try_at <= now()
                               and not exists (select 1 from webhook_delivery e
                                                where e.job_id = d.job_id and e.state = 'PENDING' and e.seq < d.seq)
                             order by d.next_try_at
                             limit :max
                               for update skip locked)
                        update webhook_delivery w set next_try_at = now() + make_interval(secs => :lease)
                          from due where w.id = due.id
                        returning w.id, w.job_id, w.tenant, w.url, w.type, w.attempt, w.step, w.created_at, w.payload, w.tries""")
                .setParameter("max", max).setParameter("lease", lease.toMillis() / 1000.0).getResultList();
        return rows.stream().map(r -> new Due((UUID) r[0], (UUID) r[1], (String) r[2], (String) r[3], (String) r[4],
                ((Number) r[5]).intValue(), ((Number) r[6]).intValue(), SqlValues.instant(r[7]), (String) r[8],
                ((Number) r[9]).intValue())).toList();
    }

    /** Fixes the body of a delivery at its first try; returns the body every try sends. */
    @Transactional
    public String fixPayload(UUID id, String payload) {
        return (String) em.createNativeQuery("""
                        update webhook_delivery set payload = coalesce(payload, :payload) where id = :id returning payload""")
                .setParameter("payload", payload).setParameter("id", id).getSingleResult();
    }

    /**
     * The receiver answered 2xx to the try that took {@code due}. A try whose lease ran out (another replica took
     * the delivery since, so {@code tries} moved on) changes nothing.
     */
    @Transactional
    public void delivered(Due due, int status) {
        em.createNativeQuery("""
                        update webhook_delivery set state = 'DELIVERED', tries = tries + 1, last_status = :status,
                               last_error = null, delivered_at = now()
                         where id = :id and state = 'PENDING' and tries = :tries""")
                .setParameter("status", status).setParameter("id", due.id()).setParameter("tries", due.tries())
                .executeUpdate();
    }

    /**
     * The try that took {@code due} failed: tried again after {@code backoff}, unless that is past {@code retryFor}
     * from the event or {@code giveUp} (a target no try may reach), when it ends FAILED. Fenced as
     * {@link #delivered} is.
     */
    @Transactional
    public void failed(Due due, Integer status, String error, Duration backoff, Duration retryFor, boolean giveUp) {
        em.createNativeQuery("""
                        update webhook_delivery set tries = tries + 1, last_status = cast(:status as integer),
                               last_error = cast(:error as varchar),
                               next_try_at = now() + make_interval(secs => :backoff),
                               state = case when :giveUp or created_at + make_interval(secs => :retryFor)
                                                 < now() + make_interval(secs => :backoff)
                                            then 'FAILED' else 'PENDING' end
                         where id = :id and state = 'PENDING' and tries = :tries""")
                .setParameter("status", status).setParameter("error", truncate(error, 500))
                .setParameter("backoff", backoff.toMillis() / 1000.0).setParameter("retryFor", retryFor.toMillis() / 1000.0)
                .setParameter("giveUp", giveUp).setParameter("id", due.id()).setParameter("tries", due.tries())
                .executeUpdate();
    }

    /** How a job's deliveries stand. */
    @Transactional
    public Summary summary(UUID jobId) {
        Object[] row = (Object[]) em.createNativeQuery("""
                        select count(*) filter (where state = 'PENDING'), count(*) filter (where state = 'DELIVERED'),
                               count(*) filter (where state = 'FAILED'),
                               (select last_error from webhook_delivery where job_id = :job and last_error is not null
                                 order by seq desc limit 1)
                          from webhook_delivery where job_id = :job""")
                .setParameter("job", jobId).getSingleResult();
        return new Summary(((Number) row[0]).longValue(), ((Number) row[1]).longValue(), ((Number) row[2]).longValue(),
                (String) row[3]);
    }

    private static String truncate(String text, int max) {
        return text == null || text.length() <= max ? text : text.substring(0, max);
    }
}

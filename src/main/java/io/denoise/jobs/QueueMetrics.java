package io.denoise.jobs;

import io.denoise.Roles;
import io.denoise.Threads;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import org.jboss.logging.Logger;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code denoise_jobs_queued{model}} and {@code denoise_jobs_running{model}} on {@code /q/metrics}, refreshed every
 * few seconds from PostgreSQL: what an autoscaler adds GPU workers on (see {@code k8s/worker-autoscaling.yaml}).
 * Published by the {@code api} role.
 */
@ApplicationScoped
public class QueueMetrics {

    private static final Logger LOG = Logger.getLogger(QueueMetrics.class);

    @Inject
    Roles roles;

    @Inject
    MeterRegistry registry;

    @Inject
    EntityManager em;

    private final Map<String, AtomicLong> gauges = new ConcurrentHashMap<>();
    private ScheduledExecutorService refresher;

    void start(@Observes StartupEvent event) {
        if (!roles.api()) {
            return;
        }
        refresher = Threads.scheduled("queue-metrics");
        refresher.scheduleWithFixedDelay(this::refresh, 0, 5, TimeUnit.SECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (refresher != null) {
            refresher.shutdownNow();
        }
    }

    private void refresh() {
        try {
            @SuppressWarnings("unchecked")
            List<Object[]> rows = QuarkusTransaction.requiringNew().call(() -> em.createNativeQuery("""
                    select m.name, s.status, count(j.id)
                      from model m cross join (values ('QUEUED'), ('RUNNING')) as s(status)
                      left join job j on j.model = m.name and j.status = s.status
                     group by m.name, s.status""").getResultList());
            for (Object[] row : rows) {
                gauge((String) row[0], ((String) row[1]).toLowerCase()).set(((Number) row[2]).longValue());
            }
        } catch (RuntimeException e) {
            LOG.debugf("queue metrics not refreshed: %s", e.getMessage());
        }
    }

    private AtomicLong gauge(String model, String status) {
        return gauges.computeIfAbsent(model + "/" + status, key -> {
            AtomicLong value = new AtomicLong();
            Gauge.builder("denoise.jobs." + status, value, AtomicLong::get).tag("model", model)
                    .description("jobs " + status + " per model").register(registry);
            return value;
        });
    }
}

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

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The queues as PostgreSQL has them, read every {@code denoise.admission.refresh} by each API replica: per model the
 * jobs queued, running and finished lately (what {@link Quotas} admits by capacity on), and the gauges
 * {@code denoise_jobs_queued{model}}, {@code denoise_jobs_running{model}} (what an autoscaler adds GPU workers on, see
 * {@code k8s/worker-autoscaling.yaml}) and {@code denoise_tenant_jobs_queued{tenant}},
 * {@code denoise_tenant_jobs_running{tenant}} for at most {@link #MAX_TENANT_GAUGES} tenants.
 */
@ApplicationScoped
public class QueueMetrics {

    private static final Logger LOG = Logger.getLogger(QueueMetrics.class);

    /** Tenants given their own gauges; the rest are summed under {@code tenant="other"}. */
    static final int MAX_TENANT_GAUGES = 1000;

    /** One model's queue at the last read. */
    public record ModelQueue(long queued, long running, long finishedInWindow, Duration window) {

        /** Jobs the workers finished per second, on average over the window. */
        public double clearRate() {
            return finishedInWindow / (window.toMillis() / 1000.0);
        }
    }

    @Inject
    Roles roles;

    @Inject
    MeterRegistry registry;

    @Inject
    EntityManager em;

    @Inject
    AdmissionConfig config;

    private static final String OTHER = "other";

    private final Map<String, AtomicLong> gauges = new ConcurrentHashMap<>();
    /** Tenants with gauges of their own: only added to, at most {@link #MAX_TENANT_GAUGES}; read by the refresher alone. */
    private final Set<String> tenants = new HashSet<>();
    private volatile Map<String, ModelQueue> queues = Map.of();
    private ScheduledExecutorService refresher;

    void start(@Observes StartupEvent event) {
        if (!roles.api()) {
            return;
        }
        refresher = Threads.scheduled("queue-metrics");
        refresher.scheduleWithFixedDelay(this::refresh, 0, config.refresh().toMillis(), TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (refresher != null) {
            refresher.shutdownNow();
        }
    }

    /** The model's queue at the last read, or null before the first (or for a model no worker registered). */
    public ModelQueue queue(String model) {
        return queues.get(model);
    }

    private void refresh() {
        try {
            Duration window = config.rateWindow();
            Read read = QuarkusTransaction.requiringNew().call(() -> readQueues(window));
            Map<String, ModelQueue> byModel = new HashMap<>();
            for (Object[] row : read.models()) {
                String model = (String) row[0];
                ModelQueue q = new ModelQueue(count(row[1]), count(row[2]), count(row[3]), window);
                byModel.put(model, q);
                gauge("denoise.jobs.queued", "model", model, "jobs queued per model").set(q.queued());
                gauge("denoise.jobs.running", "model", model, "jobs running per model").set(q.running());
            }
            queues = Map.copyOf(byModel);
            tenantGauges(read.tenants());
        } catch (RuntimeException e) {
            LOG.debugf("queue metrics not refreshed: %s", e.getMessage());
        }
    }

    /** One read's rows: per model (name, queued, running, finished lately) and per tenant (name, queued, running). */
    private record Read(List<Object[]> models, List<Object[]> tenants) {
    }

    @SuppressWarnings("unchecked")
    private Read readQueues(Duration window) {
        List<Object[]> models = em.createNativeQuery("""
                        select m.name,
                               (select count(*) from job j where j.model = m.name and j.status = 'QUEUED'),
                               (select count(*) from job j where j.model = m.name and j.status = 'RUNNING'),
                               (select count(*) from job j where j.model = m.name and j.started_at is not null
                                   and j.finished_at > now() - make_interval(secs => :window))
                          from model m""")
                .setParameter("window", window.toMillis() / 1000.0).getResultList();
        List<Object[]> tenants = em.createNativeQuery("""
                select tenant, count(*) filter (where status = 'QUEUED'), count(*) filter (where status = 'RUNNING')
                  from job where status in ('QUEUED', 'RUNNING') group by tenant""").getResultList();
        return new Read(models, tenants);
    }

    /** Every tenant gauge is rewritten, so a tenant whose jobs all ended reads 0, not its last count. */
    private void tenantGauges(List<Object[]> rows) {
        Map<String, long[]> counts = new HashMap<>();
        for (Object[] row : rows) {
            String tenant = (String) row[0];
            boolean own = tenants.contains(tenant) || tenants.size() < MAX_TENANT_GAUGES;
            if (own) {
                tenants.add(tenant);
            }
            long[] c = counts.computeIfAbsent(own ? tenant : OTHER, t -> new long[2]);
            c[0] += count(row[1]);
            c[1] += count(row[2]);
        }
        counts.keySet().forEach(tenant -> {
            gauge("denoise.tenant.jobs.queued", "tenant", tenant, "jobs queued per tenant");
            gauge("denoise.tenant.jobs.running", "tenant", tenant, "jobs running per tenant");
        });
        gauges.forEach((key, value) -> {
            int slash = key.indexOf('/');
            String name = key.substring(0, slash);
            long[] c = counts.get(key.substring(slash + 1));
            if (name.equals("denoise.tenant.jobs.queued")) {
                value.set(c == null ? 0 : c[0]);
            } else if (name.equals("denoise.tenant.jobs.running")) {
                value.set(c == null ? 0 : c[1]);
            }
        });
    }

    private static long count(Object value) {
        return ((Number) value).longValue();
    }

    private AtomicLong gauge(String name, String tag, String value, String description) {
        return gauges.computeIfAbsent(name + "/" + value, key -> {
            AtomicLong holder = new AtomicLong();
            Gauge.builder(name, holder, AtomicLong::get).tag(tag, value).description(description).register(registry);
            return holder;
        });
    }
}

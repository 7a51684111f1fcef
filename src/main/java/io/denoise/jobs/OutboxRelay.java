package io.denoise.jobs;

import io.denoise.Roles;
import io.denoise.messaging.KafkaTopics;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Publishes outbox rows to Kafka and deletes them once the broker acknowledged them. Rows are locked with
 * {@code FOR UPDATE SKIP LOCKED}, so several API replicas can relay side by side; a submit wakes the relay as soon
 * as its transaction commits, and a poll every second catches anything else (rows written while Kafka was down).
 * Runs in the {@code api} role on its own thread.
 */
@ApplicationScoped
public class OutboxRelay {

    private static final Logger LOG = Logger.getLogger(OutboxRelay.class);
    private static final int BATCH = 100;
    private static final Duration POLL = Duration.ofSeconds(1);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);
    /** After a wake-up, rows committed within this window go out in the same batch (one transaction, one flush). */
    private static final long LINGER_MS = 3;

    @Inject
    Roles roles;

    @Inject
    EntityManager em;

    @Inject
    KafkaTopics topics;

    @Inject
    JobStore store;

    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    private final Semaphore wake = new Semaphore(0);
    private volatile boolean running;
    private Thread thread;
    private KafkaProducer<String, String> producer;

    void start(@Observes StartupEvent event) {
        if (!roles.api()) {
            return;
        }
        producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.LINGER_MS_CONFIG, 0,
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 3000,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 3000,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 6000),
                new StringSerializer(), new StringSerializer());
        running = true;
        thread = new Thread(this::loop, "outbox-relay");
        thread.setDaemon(true);
        thread.start();
    }

    void stop(@Observes ShutdownEvent event) throws InterruptedException {
        if (thread == null) {
            return;
        }
        running = false;
        wake.release();
        thread.join(TimeUnit.SECONDS.toMillis(10));
        producer.close(Duration.ofSeconds(5));
    }

    /** Wakes the relay once a submit's transaction has committed. */
    void onOutboxWritten(@Observes(during = TransactionPhase.AFTER_SUCCESS) JobStore.OutboxWritten event) {
        wake.release();
    }

    private void loop() {
        Duration backoff = Duration.ZERO;
        while (running) {
            try {
                if (wake.tryAcquire(backoff.isZero() ? POLL.toMillis() : backoff.toMillis(), TimeUnit.MILLISECONDS)) {
                    Thread.sleep(LINGER_MS);
                    wake.drainPermits();
                }
                if (!running) {
                    return;
                }
                int sent;
                do {
                    sent = QuarkusTransaction.requiringNew().call(this::relayBatch);
                } while (sent == BATCH && running);
                backoff = Duration.ZERO;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                backoff = backoff.isZero() ? Duration.ofMillis(250) : min(backoff.multipliedBy(2), MAX_BACKOFF);
                LOG.warnf("outbox relay cannot publish yet (%s); retrying in %d ms", rootMessage(e), backoff.toMillis());
            }
        }
    }

    /** Publishes one batch and deletes it; the transaction rolls back (rows stay) if any send fails. */
    private int relayBatch() throws Exception {
        @SuppressWarnings("unchecked")
        List<Object[]> rows = em.createNativeQuery("""
                        select id, topic, record_key, payload from outbox
                         order by id limit :batch for update skip locked""")
                .setParameter("batch", BATCH)
                .getResultList();
        if (rows.isEmpty()) {
            return 0;
        }
        topics.ensure(rows.stream().map(r -> (String) r[1]).distinct().toList());
        List<Future<RecordMetadata>> acks = new ArrayList<>(rows.size());
        List<Long> ids = new ArrayList<>(rows.size());
        for (Object[] row : rows) {
            acks.add(producer.send(new ProducerRecord<>((String) row[1], (String) row[2], (String) row[3])));
            ids.add(((Number) row[0]).longValue());
        }
        Map<UUID, JobStore.Dispatch> dispatches = new HashMap<>();
        for (int i = 0; i < acks.size(); i++) {
            RecordMetadata sent = acks.get(i).get(10, TimeUnit.SECONDS);
            dispatches.put(UUID.fromString((String) rows.get(i)[2]), new JobStore.Dispatch(sent.partition(), sent.offset()));
        }
        store.recordDispatched(dispatches);
        em.createNativeQuery("delete from outbox where id in (:ids)").setParameter("ids", ids).executeUpdate();
        return rows.size();
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) < 0 ? a : b;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}

package io.denoise.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.messaging.JobRecord;
import io.denoise.messaging.KafkaTopics;
import io.denoise.messaging.Topics;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Takes jobs from the model topics with a plain {@link KafkaShareConsumer} in explicit-acknowledgement mode, one
 * record at a time, on its own thread: any idle worker gets the next job, a worker that dies has its record
 * redelivered, and the delivery count bounds poison jobs. While a job runs (on a second thread) the record's lock
 * is renewed at half the lock duration: the RENEW is committed on its own (a fetch that carries it acquires
 * nothing), and the broker hands the renewed record back on the next poll, where it is recognised by its offset.
 * A record that cannot be parsed, or that reached the delivery limit, has its job failed with the reason and is
 * rejected; the failure is written before the record is let go, retried while the database is down.
 */
@ApplicationScoped
public class JobConsumer {

    private static final Logger LOG = Logger.getLogger(JobConsumer.class);
    private static final Duration REDELIVERY_WAIT = Duration.ofSeconds(5);

    @Inject
    WorkerConfig config;

    @Inject
    JobRunner runner;

    @Inject
    ObjectMapper json;

    @Inject
    KafkaTopics kafkaTopics;

    @Inject
    Topics topics;

    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    private final ExecutorService jobs = Executors.newSingleThreadExecutor(r -> new Thread(r, "job-runner"));
    private volatile boolean running;
    private volatile boolean polling;
    private volatile Thread thread;
    private volatile KafkaShareConsumer<String, String> consumer;
    private volatile String workerId;
    /** The deliveries after which a job is ended, from {@link #deliveryLimit(int, int)} once Kafka answered. */
    volatile int deliveryLimit;

    /** Starts consuming the jobs topics of the given models as {@code workerId}. */
    synchronized void start(List<String> models, String workerId) {
        this.workerId = workerId;
        running = true;
        thread = new Thread(() -> loop(models), "job-consumer");
        thread.start();
    }

    /** Whether the consumer has subscribed and polled (readiness). */
    public boolean isPolling() {
        return polling;
    }

    /**
     * Stops taking jobs; the job in flight gets {@code grace} to finish, then is stopped and released.
     *
     * @return whether no generation is running any more, so the models may be closed
     */
    boolean stop(Duration grace) throws InterruptedException {
        running = false;
        Thread t = thread;
        if (t != null) {
            t.join(grace.toMillis());
            if (t.isAlive()) {
                runner.shutdown();
                t.join(TimeUnit.SECONDS.toMillis(10));
            }
            KafkaShareConsumer<String, String> c = consumer;
            if (c != null && t.isAlive()) {
                c.wakeup();
                t.join(TimeUnit.SECONDS.toMillis(5));
            }
        }
        jobs.shutdown();
        return jobs.awaitTermination(10, TimeUnit.SECONDS);
    }

    /**
     * Until Kafka answers: creates the topics (so the subscription sees them at once) and makes the share group
     * start at the earliest record, so jobs accepted while no worker was polling are not skipped.
     */
    private boolean prepareKafka(List<String> models) {
        long backoff = 500;
        while (running) {
            try {
                kafkaTopics.ensureFor(models);
                kafkaTopics.prepareShareGroup(config.shareGroup(), config.lockDuration());
                deliveryLimit = deliveryLimit(config.maxDeliveries(), kafkaTopics.deliveryCountLimit());
                return true;
            } catch (KafkaTopics.KafkaUnavailableException e) {
                LOG.infof("waiting for Kafka: %s", e.getMessage());
                sleep(backoff);
                backoff = Math.min(backoff * 2, 5000);
            }
        }
        return false;
    }

    /**
     * The deliveries after which the worker ends a job: the configured limit, kept below the broker's, since the
     * broker archives a record without telling anyone once it used up its deliveries.
     */
    static int deliveryLimit(int configured, int broker) {
        int limit = Math.max(1, Math.min(configured, broker - 1));
        if (limit != configured) {
            LOG.warnf("denoise.worker.max-deliveries=%d is not below the broker's %s=%d; using %d",
                    configured, KafkaTopics.DELIVERY_COUNT_LIMIT, broker, limit);
        }
        return limit;
    }

    private void loop(List<String> models) {
        if (!prepareKafka(models)) {
            return;
        }
        List<String> topics = models.stream().map(this.topics::jobs).toList();
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, config.shareGroup());
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, workerId);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        props.put("share.acknowledgement.mode", "explicit");
        props.put("share.acquire.mode", "record_limit");
        props.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, 5000);
        // an idle worker's fetch returns as soon as a job arrives; a short wait bounds it when the broker defers
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
        try (KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            consumer = c;
            c.subscribe(topics);
            LOG.infof("worker %s takes jobs from %s", workerId, topics);
            while (running) {
                try {
                    var records = c.poll(Duration.ofMillis(200));
                    polling = true;
                    for (ConsumerRecord<String, String> record : records) {
                        process(c, record);
                    }
                } catch (WakeupException e) {
                    if (running) {
                        LOG.debug("consumer woken up");
                    }
                } catch (RuntimeException e) {
                    LOG.warnf("job consumer: %s; retrying", e.toString());
                    sleep(1000);
                }
            }
        } finally {
            consumer = null;
            polling = false;
        }
    }

    private void process(KafkaShareConsumer<String, String> c, ConsumerRecord<String, String> record) {
        Future<JobRunner.Outcome> outcome = jobs.submit(task(record));
        ConsumerRecord<String, String> current = record;
        long renewMs = Math.max(500, c.acquisitionLockTimeoutMs().map(Integer::longValue)
                .orElse(config.lockDuration().toMillis()) / 2);
        while (true) {
            try {
                JobRunner.Outcome result = outcome.get(renewMs, TimeUnit.MILLISECONDS);
                acknowledge(c, current, switch (result) {
                    case ACCEPT -> AcknowledgeType.ACCEPT;
                    case RELEASE -> AcknowledgeType.RELEASE;
                    case REJECT -> AcknowledgeType.REJECT;
                });
                return;
            } catch (TimeoutException e) {
                current = renew(c, current);
            } catch (ExecutionException e) {
                LOG.errorf(e.getCause(), "record %s: runner failed", record.key());
                acknowledge(c, current, AcknowledgeType.RELEASE);
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                acknowledge(c, current, AcknowledgeType.RELEASE);
                return;
            }
        }
    }

    /** What to do with a record, run on the job thread while this one renews the record's lock. */
    Callable<JobRunner.Outcome> task(ConsumerRecord<String, String> record) {
        int deliveries = record.deliveryCount().map(Short::intValue).orElse(1);
        JobRecord job;
        try {
            job = parse(record);
        } catch (IllegalArgumentException e) {
            String reason = "malformed job record at " + record.topic() + "-" + record.partition() + "@"
                    + record.offset() + ": " + e.getMessage();
            LOG.warn(reason);
            UUID key = keyAsJobId(record.key());
            return () -> key == null ? JobRunner.Outcome.REJECT : runner.failUnclaimed(key, "MALFORMED_RECORD", reason);
        }
        if (deliveries > deliveryLimit) {
            String message = "delivered " + deliveries + " times without finishing (limit " + deliveryLimit + ")";
            LOG.warnf("rejecting job %s: %s", job.jobId(), message);
            return () -> runner.failUnclaimed(job.jobId(), "DELIVERY_LIMIT", message);
        }
        return () -> runner.run(job.jobId(), workerId, deliveries);
    }

    /**
     * Renews the lock of the record in flight. The RENEW is committed by itself before the next poll, so that
     * poll returns the renewed record rather than fetching (and then having to release, spending one of its
     * deliveries) someone else's job; with Kafka 4.2.1 the poll after a RENEW returned only the renewed record
     * even without that (LockRenewalIT passes either way), and the commit keeps it so. The
     * copy that comes back (same partition and offset) is the one to acknowledge from then on; any other record
     * that still arrives is released for another worker. A renewal that fails is logged and tried again at the
     * next interval: the job goes on either way.
     */
    private ConsumerRecord<String, String> renew(KafkaShareConsumer<String, String> c, ConsumerRecord<String, String> current) {
        try {
            c.acknowledge(current, AcknowledgeType.RENEW);
            commit(c, "renew");
            return awaitRedelivery(c, current);
        } catch (IllegalStateException | KafkaException e) {
            LOG.warnf("cannot renew the lock of %s-%d@%d: %s", current.topic(), current.partition(), current.offset(),
                    e.toString());
            return current;
        }
    }

    private ConsumerRecord<String, String> awaitRedelivery(KafkaShareConsumer<String, String> c, ConsumerRecord<String, String> current) {
        long deadline = System.nanoTime() + REDELIVERY_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                if (r.topic().equals(current.topic()) && r.partition() == current.partition() && r.offset() == current.offset()) {
                    return r;
                }
                LOG.infof("released %s-%d@%d, fetched while renewing (delivery %s)", r.topic(), r.partition(), r.offset(),
                        r.deliveryCount().map(String::valueOf).orElse("?"));
                c.acknowledge(r, AcknowledgeType.RELEASE);
            }
        }
        LOG.warnf("renewed record %s-%d@%d did not come back within %s", current.topic(), current.partition(),
                current.offset(), REDELIVERY_WAIT);
        return current;
    }

    private void acknowledge(KafkaShareConsumer<String, String> c, ConsumerRecord<String, String> record, AcknowledgeType type) {
        try {
            try {
                c.acknowledge(record, type);
            } catch (IllegalStateException e) {
                c.acknowledge(awaitRedelivery(c, record), type);
            }
            commit(c, type.name());
        } catch (IllegalStateException | KafkaException e) {
            // the lock was lost meanwhile: the record comes back to some worker, whose claim sees how the job stands
            LOG.warnf("cannot acknowledge %s-%d@%d as %s: %s", record.topic(), record.partition(), record.offset(),
                    type, e.toString());
        }
    }

    private static void commit(KafkaShareConsumer<String, String> c, String what) {
        c.commitSync(Duration.ofSeconds(5)).forEach((partition, error) -> error.ifPresent(e ->
                LOG.warnf("%s on %s not committed: %s", what, partition, e.toString())));
    }

    private JobRecord parse(ConsumerRecord<String, String> record) {
        JobRecord job;
        try {
            job = json.readValue(record.value(), JobRecord.class);
        } catch (Exception e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (job == null || job.jobId() == null || job.model() == null) {
            throw new IllegalArgumentException("jobId and model are required");
        }
        return job;
    }

    private static UUID keyAsJobId(String key) {
        try {
            return key == null ? null : UUID.fromString(key);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

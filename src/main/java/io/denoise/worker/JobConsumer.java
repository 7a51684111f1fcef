package io.denoise.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.Threads;
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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Takes jobs from the model topics with plain {@link KafkaShareConsumer}s in explicit-acknowledgement mode, one
 * record at a time each: any idle worker gets the next job, a worker that dies has its records redelivered, and
 * the delivery count bounds poison jobs. A worker holds up to {@link WorkerConfig#maxBatchJobs()} jobs, one per
 * lane: each lane is a consumer of the share group with a thread that polls, and a second thread that runs the
 * job it took (the jobs meet in the {@link InferenceLoop}'s batch). An idle lane polls while the inference loop
 * has room; while it has none (the step budget), idle lanes leave the share group, since a subscribed consumer
 * fetches in the background and would hold a job that another worker could start at once.
 *
 * <p>An idle lane makes one long poll per record, and is woken ({@link KafkaShareConsumer#wakeup}) when the room
 * goes or the worker stops, rather than polling again every few hundred milliseconds: with kafka-clients 4.2.1 every
 * poll call asks the consumer's background thread to fetch, and a call that starts while a fetch is on its way back
 * with a record can have that request handled after the answer, so the consumer goes on fetching after the poll
 * returned its record. The next job would then be acquired by a lane that is busy with its own (a running job's
 * lane stays subscribed, to renew its record's lock), and it would not get it out before that job ended: while a
 * record is unacknowledged, poll returns that one again.
 *
 * <p>While a job runs its record's lock is renewed at half the lock duration:
 * the RENEW is committed on its own (a fetch that carries it acquires nothing), and the broker hands the renewed
 * record back on the next poll, where it is recognised by its offset. Each record is acknowledged on its own,
 * when its job ends. A record that cannot be parsed has its job failed with the reason and is rejected; the
 * failure is written before the record is let go, retried while the database is down. A record's delivery count
 * does not end its job: deliveries are also spent by fetches that never reach this code (a consumer's session
 * reset by a broker restart, a lane leaving the group), so a job is ended by its attempts (each claim is one, see
 * {@link io.denoise.jobs.JobAttempts#claim}), and a record the broker archived at its delivery limit is replaced
 * by {@link io.denoise.jobs.JobRecovery}.
 */
@ApplicationScoped
public class JobConsumer {

    private static final Logger LOG = Logger.getLogger(JobConsumer.class);
    private static final Duration REDELIVERY_WAIT = Duration.ofSeconds(5);
    /** An idle lane's poll, if nothing wakes it: each new poll call is a chance for the consumer to keep fetching. */
    private static final Duration IDLE_POLL = Duration.ofSeconds(10);
    /** How often idle lanes are checked for a reason to wake them (no room, stopping). */
    private static final long WATCH_MS = 20;

    @Inject
    WorkerConfig config;

    @Inject
    JobRunner runner;

    @Inject
    InferenceLoop inference;

    @Inject
    ObjectMapper json;

    @Inject
    KafkaTopics kafkaTopics;

    @Inject
    Topics topics;

    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    private final List<Lane> lanes = new CopyOnWriteArrayList<>();
    /** Records the lanes are processing: the jobs this worker has taken, whether or not they reached the batch. */
    private final AtomicInteger taken = new AtomicInteger();
    private volatile boolean running;
    private volatile boolean polling;
    private volatile String workerId;
    private volatile ScheduledExecutorService watch;

    /** Starts consuming the jobs topics of the given models as {@code workerId}, with one lane per job held. */
    synchronized void start(List<String> models, String workerId) {
        this.workerId = workerId;
        running = true;
        int count = Math.max(1, config.maxBatchJobs());
        for (int i = 0; i < count; i++) {
            lanes.add(new Lane(i, count));
        }
        ScheduledExecutorService w = Threads.scheduled("job-lane-watch");
        w.scheduleWithFixedDelay(this::wakeIdleLanes, WATCH_MS, WATCH_MS, TimeUnit.MILLISECONDS);
        watch = w;
        Thread first = new Thread(() -> {
            if (prepareKafka(models)) {
                List<String> jobTopics = models.stream().map(this.topics::jobs).toList();
                lanes.stream().skip(1).forEach(lane -> lane.start(jobTopics));
                lanes.get(0).run(jobTopics);
            }
        }, lanes.get(0).name);
        lanes.get(0).thread = first;
        first.start();
    }

    /** Whether the consumer has subscribed and polls (readiness). */
    public boolean isPolling() {
        return polling;
    }

    /** Wakes the lanes waiting in a poll that should not wait any more: the batch has no room, or the worker stops. */
    private void wakeIdleLanes() {
        if (!idleLanesMayWait()) {
            lanes.forEach(Lane::wakeUpIfWaiting);
        }
    }

    /** Whether an idle lane may wait for a record: the worker runs and the batch has room for one more job. */
    private boolean idleLanesMayWait() {
        return running && inference.hasRoom(taken.get());
    }

    /**
     * Stops taking jobs; the jobs in flight get {@code grace} to finish, then are stopped and released.
     *
     * @return whether no generation is running any more, so the models may be closed
     */
    boolean stop(Duration grace) throws InterruptedException {
        running = false;
        lanes.forEach(Lane::wakeUpIfWaiting);
        long deadline = System.nanoTime() + grace.toNanos();
        for (Lane lane : lanes) {
            lane.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        }
        if (lanes.stream().anyMatch(Lane::isAlive)) {
            runner.shutdown();
            for (Lane lane : lanes) {
                lane.join(TimeUnit.SECONDS.toMillis(10));
            }
        }
        for (Lane lane : lanes) {
            lane.wakeUpIfAlive();
        }
        lanes.forEach(lane -> lane.jobs.shutdown());
        ScheduledExecutorService w = watch;
        if (w != null) {
            w.shutdownNow();
        }
        long jobsDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        boolean stopped = true;
        for (Lane lane : lanes) {
            stopped &= lane.jobs.awaitTermination(Math.max(0, jobsDeadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        }
        return stopped;
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
                return true;
            } catch (KafkaTopics.KafkaUnavailableException e) {
                LOG.infof("waiting for Kafka: %s", e.getMessage());
                sleep(backoff);
                backoff = Math.min(backoff * 2, 5000);
            }
        }
        return false;
    }

    /** One job slot: a share consumer that polls on its own thread, and a thread that runs the job it took. */
    private final class Lane {

        final String name;
        final String clientId;
        final ExecutorService jobs;
        volatile Thread thread;
        volatile KafkaShareConsumer<String, String> consumer;
        /** A record fetched while this lane acknowledged its last one: it runs next. Lane thread only. */
        final List<ConsumerRecord<String, String>> pending = new ArrayList<>();
        /** Whether the consumer refused to acknowledge or renew a record it returned: it is replaced. Lane thread only. */
        boolean lostTrack;
        /** Whether the lane waits in an idle poll, where a wake-up ends the wait and nothing else. */
        volatile boolean waiting;

        Lane(int index, int count) {
            this.name = count == 1 ? "job-consumer" : "job-consumer-" + index;
            this.clientId = count == 1 ? workerId : workerId + "-" + index;
            String runnerName = count == 1 ? "job-runner" : "job-runner-" + index;
            this.jobs = Executors.newSingleThreadExecutor(r -> new Thread(r, runnerName));
        }

        void start(List<String> jobTopics) {
            Thread t = new Thread(() -> run(jobTopics), name);
            thread = t;
            t.start();
        }

        /**
         * Consumes until the worker stops. A consumer that lost track of its record (an acknowledgement or renewal it
         * no longer accepts, as after a broker restart) is closed and replaced once its job has ended: measured in
         * {@code KafkaKillIT}, such a consumer went on acquiring records without returning them from poll, so each
         * sat out its lock and spent a delivery until the broker archived it. Closing it releases what it holds.
         */
        void run(List<String> jobTopics) {
            try {
                while (running) {
                    lostTrack = false;
                    consume(jobTopics);
                    if (running && lostTrack) {
                        LOG.warnf("lane %s replaces its consumer: it lost track of its record", clientId);
                    }
                }
            } finally {
                polling = false;
            }
        }

        private void consume(List<String> jobTopics) {
            Map<String, Object> props = new HashMap<>();
            props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            props.put(ConsumerConfig.GROUP_ID_CONFIG, config.shareGroup());
            props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
            props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
            props.put("share.acknowledgement.mode", "explicit");
            props.put("share.acquire.mode", "record_limit");
            props.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, 5000);
            // an idle lane's fetch returns as soon as a job arrives; the wait only bounds an empty one, and at 500 ms
            // eight idle lanes cost the broker 16 fetches a second rather than 80 (measured: first progress p50 87 →
            // 73 ms on the shared two-core stack)
            props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 500);
            try (KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
                consumer = c;
                c.subscribe(jobTopics);
                LOG.infof("worker %s takes jobs from %s", clientId, jobTopics);
                boolean subscribed = true;
                while (running && !lostTrack) {
                    try {
                        int jobs = taken.get();
                        if (subscribed ? !inference.hasRoom(jobs) : !inference.hasRoomToRejoin(jobs)) {
                            // a consumer fetches in the background while subscribed: leave the group rather than
                            // acquire a job there is no room for, which would wait here while another worker idles
                            if (subscribed) {
                                for (ConsumerRecord<String, String> r : pending) {
                                    c.acknowledge(r, AcknowledgeType.RELEASE);
                                }
                                if (!pending.isEmpty()) {
                                    commit(c, "release");
                                    pending.clear();
                                }
                                c.unsubscribe();
                                subscribed = false;
                                LOG.debugf("lane %s leaves the share group: the batch has no room", clientId);
                            }
                            sleep(20);
                            continue;
                        }
                        if (!subscribed) {
                            c.subscribe(jobTopics);
                            subscribed = true;
                        }
                        List<ConsumerRecord<String, String>> records = new ArrayList<>(pending);
                        pending.clear();
                        if (records.isEmpty()) {
                            polling = true;
                            waitFor(c, records);
                        }
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
                pending.clear();
            }
        }

        /**
         * One idle poll, until a record comes or the lane is woken. The room and the running flag are read again once
         * {@link #waiting} is set, so a wake-up the watch decided on just before is not missed.
         */
        private void waitFor(KafkaShareConsumer<String, String> c, List<ConsumerRecord<String, String>> records) {
            waiting = true;
            try {
                if (idleLanesMayWait()) {
                    c.poll(IDLE_POLL).forEach(records::add);
                }
            } finally {
                waiting = false;
            }
        }

        /** Wakes the consumer if the lane waits in an idle poll; a lane running a job is left alone. */
        void wakeUpIfWaiting() {
            KafkaShareConsumer<String, String> c = consumer;
            if (waiting && c != null) {
                c.wakeup();
            }
        }

        private void process(KafkaShareConsumer<String, String> c, ConsumerRecord<String, String> record) {
            taken.incrementAndGet();
            try {
                runToTheEnd(c, record);
            } finally {
                taken.decrementAndGet();
            }
        }

        private void runToTheEnd(KafkaShareConsumer<String, String> c, ConsumerRecord<String, String> record) {
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
                    }, pending);
                    return;
                } catch (TimeoutException e) {
                    current = renew(c, current);
                } catch (ExecutionException e) {
                    LOG.errorf(e.getCause(), "record %s: runner failed", record.key());
                    acknowledge(c, current, AcknowledgeType.RELEASE, pending);
                    return;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    acknowledge(c, current, AcknowledgeType.RELEASE, pending);
                    return;
                }
            }
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
                return awaitRedelivery(c, current, null);
            } catch (IllegalStateException | KafkaException e) {
                LOG.warnf("cannot renew the lock of %s-%d@%d: %s", current.topic(), current.partition(), current.offset(),
                        e.toString());
                lostTrack |= e instanceof IllegalStateException;
                return current;
            }
        }

        /**
         * Polls until the broker hands back {@code current} after a RENEW, for at most {@link #REDELIVERY_WAIT}. Once it
         * hands out another record instead, the renewed one is not coming (its lock was lost, say, when the broker
         * restarted): the wait ends there, rather than fetching and letting go of job after job, each fetch spending one
         * of that job's deliveries. That other record goes to {@code keep} when the caller can run it next (its job has
         * just ended), and is released for another worker otherwise.
         *
         * @param keep where a record fetched instead goes, or null to release it
         */
        private ConsumerRecord<String, String> awaitRedelivery(KafkaShareConsumer<String, String> c, ConsumerRecord<String, String> current,
                                                               List<ConsumerRecord<String, String>> keep) {
            long deadline = System.nanoTime() + REDELIVERY_WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                ConsumerRecord<String, String> other = null;
                for (ConsumerRecord<String, String> r : pastAWakeUp(() -> c.poll(Duration.ofMillis(100)))) {
                    if (r.topic().equals(current.topic()) && r.partition() == current.partition() && r.offset() == current.offset()) {
                        return r;
                    }
                    other = r;
                    if (keep != null) {
                        keep.add(r);
                    } else {
                        LOG.infof("released %s-%d@%d, fetched while renewing (delivery %s)", r.topic(), r.partition(), r.offset(),
                                r.deliveryCount().map(String::valueOf).orElse("?"));
                        c.acknowledge(r, AcknowledgeType.RELEASE);
                    }
                }
                if (other != null) {
                    LOG.warnf("renewed record %s-%d@%d did not come back; %s-%d@%d came instead", current.topic(),
                            current.partition(), current.offset(), other.topic(), other.partition(), other.offset());
                    return current;
                }
            }
            LOG.warnf("renewed record %s-%d@%d did not come back within %s", current.topic(), current.partition(),
                    current.offset(), REDELIVERY_WAIT);
            return current;
        }

        /**
         * Acknowledges a record whose job has ended; a record fetched meanwhile goes to {@code next}, to run next.
         */
        private void acknowledge(KafkaShareConsumer<String, String> c, ConsumerRecord<String, String> record, AcknowledgeType type,
                                 List<ConsumerRecord<String, String>> next) {
            try {
                try {
                    c.acknowledge(record, type);
                } catch (IllegalStateException e) {
                    c.acknowledge(awaitRedelivery(c, record, next), type);
                }
                commit(c, type.name());
            } catch (IllegalStateException | KafkaException e) {
                // the lock was lost meanwhile: the record comes back to some worker, whose claim sees how the job stands
                LOG.warnf("cannot acknowledge %s-%d@%d as %s: %s", record.topic(), record.partition(), record.offset(),
                        type, e.toString());
                lostTrack |= e instanceof IllegalStateException;
            }
        }

        boolean isAlive() {
            Thread t = thread;
            return t != null && t.isAlive();
        }

        void join(long millis) throws InterruptedException {
            Thread t = thread;
            if (t != null) {
                t.join(millis);
            }
        }

        /** Wakes a consumer still blocked in a poll, and gives it a few seconds to close. */
        void wakeUpIfAlive() throws InterruptedException {
            KafkaShareConsumer<String, String> c = consumer;
            if (c != null && isAlive()) {
                c.wakeup();
                join(TimeUnit.SECONDS.toMillis(5));
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
        return () -> runner.run(job.jobId(), workerId, deliveries);
    }

    /**
     * Runs a blocking consumer call of a lane with a job, once more if it was woken: a wake-up meant for the lane's
     * idle poll can land just after that poll returned a record, and must not cost that record its renewal or
     * acknowledgement.
     */
    private static <T> T pastAWakeUp(Supplier<T> call) {
        try {
            return call.get();
        } catch (WakeupException e) {
            return call.get();
        }
    }

    private static void commit(KafkaShareConsumer<String, String> c, String what) {
        pastAWakeUp(() -> c.commitSync(Duration.ofSeconds(5))).forEach((partition, error) -> error.ifPresent(e ->
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

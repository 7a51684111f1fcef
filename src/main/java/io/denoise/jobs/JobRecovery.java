package io.denoise.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.Roles;
import io.denoise.Threads;
import io.denoise.messaging.EventPublisher;
import io.denoise.messaging.JobEvent;
import io.denoise.messaging.JobRecord;
import io.denoise.messaging.KafkaTopics;
import io.denoise.messaging.Topics;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.apache.kafka.common.TopicPartition;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Re-drives jobs whose Kafka record is gone, so that no accepted job waits forever, whatever failed. PostgreSQL
 * is the source of truth: a job that is QUEUED, or RUNNING with a lease that lapsed, and has not been dispatched
 * for {@link JobsConfig#staleAfter()} is checked against the workers' share group. Its record is done when its
 * offset is below the group's start offset or the group has nothing left in the partition
 * ({@link KafkaTopics.ShareProgress#isDone}): it was archived (delivery limit reached while the database was
 * down, say) or accepted by a worker that then lost the job, and a new record is published through the outbox.
 * Otherwise it is still to come and the job is left alone. A job whose
 * attempts or re-drives are used up is failed with a code saying so. Runs in the {@code api} role; several
 * replicas share the work ({@code FOR UPDATE SKIP LOCKED}). When Kafka does not answer, nothing is decided.
 */
@ApplicationScoped
public class JobRecovery {

    private static final Logger LOG = Logger.getLogger(JobRecovery.class);
    private static final int BATCH = 200;
    /** Failure code of a job whose record was lost more often than {@link JobsConfig#maxRedrives()}. */
    public static final String UNDELIVERABLE = "UNDELIVERABLE";

    @Inject
    Roles roles;

    @Inject
    JobsConfig config;

    @Inject
    JobStore store;

    @Inject
    ModelRegistry models;

    @Inject
    KafkaTopics kafka;

    @Inject
    Topics topics;

    @Inject
    EventPublisher events;

    @Inject
    ObjectMapper json;

    @ConfigProperty(name = "denoise.worker.share-group", defaultValue = "denoise-workers")
    String shareGroup;

    private ScheduledExecutorService loop;

    void start(@Observes StartupEvent event) {
        if (!roles.api()) {
            return;
        }
        loop = Threads.scheduled("job-recovery");
        long every = config.recoveryInterval().toMillis();
        loop.scheduleWithFixedDelay(this::recoverSafely, every, every, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (loop != null) {
            loop.shutdownNow();
        }
    }

    private void recoverSafely() {
        try {
            recover();
        } catch (KafkaTopics.KafkaUnavailableException e) {
            LOG.debugf("recovery skipped, Kafka does not answer: %s", e.getMessage());
        } catch (RuntimeException e) {
            LOG.debugf("recovery skipped: %s", e.toString());
        }
    }

    /** One pass: returns the jobs re-driven or failed. */
    List<JobStore.Recovered> recover() throws KafkaTopics.KafkaUnavailableException {
        List<String> jobTopics = models.all().keySet().stream().map(topics::jobs).toList();
        if (jobTopics.isEmpty()) {
            return List.of();
        }
        Map<TopicPartition, KafkaTopics.ShareProgress> progress = kafka.shareGroupProgress(shareGroup, jobTopics);
        List<JobStore.Recovered> acted = store.recoverStranded(config.staleAfter(), BATCH, job -> decide(job,
                job.recordPartition == null ? null : progress.get(new TopicPartition(topics.jobs(job.model), job.recordPartition)),
                config.maxAttempts(), config.maxRedrives(), topics.jobs(job.model), record(job)));
        for (JobStore.Recovered r : acted) {
            if (r.action() instanceof JobStore.Recovery.Fail fail) {
                LOG.warnf("job %s failed by recovery: %s", r.id(), fail.message());
                events.publish(JobEvent.failed(r.id(), r.attempt(), JobEvent.FINAL_SEQ, fail.code(), fail.message()));
            } else {
                LOG.infof("job %s: its record was lost; published a new one", r.id());
            }
        }
        return acted;
    }

    /**
     * What to do with a job that looks stranded.
     *
     * @param progress the share group's progress through the job's partition, null when the group has not read
     *     it yet (every record in it is still to come)
     */
    static JobStore.Recovery decide(Job job, KafkaTopics.ShareProgress progress, int maxAttempts, int maxRedrives,
                                    String topic, String payload) {
        if (job.recordOffset != null && job.recordPartition != null && (progress == null || !progress.isDone(job.recordOffset))) {
            return new JobStore.Recovery.Leave();
        }
        if (job.attempt >= maxAttempts) {
            return new JobStore.Recovery.Fail(JobStore.ATTEMPTS_EXHAUSTED, JobStore.exhaustedMessage(job.attempt));
        }
        if (job.redrives >= maxRedrives) {
            return new JobStore.Recovery.Fail(UNDELIVERABLE, "its Kafka record was lost " + (job.redrives + 1)
                    + " times before any worker could finish it");
        }
        return new JobStore.Recovery.Redrive(topic, payload);
    }

    private String record(Job job) {
        try {
            return json.writeValueAsString(new JobRecord(job.id, job.model));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}

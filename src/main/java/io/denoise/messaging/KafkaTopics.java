package io.denoise.messaging;

import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.ArrayList;
import java.util.Optional;

/**
 * Creates the topics Denoise uses. Jobs topics get one partition per model: with a share group any idle worker
 * takes the next record of a partition, and more partitions than workers would bring back head-of-line blocking.
 * Thread-safe; remembers topics it has made sure of.
 */
@ApplicationScoped
public class KafkaTopics {

    private static final Logger LOG = Logger.getLogger(KafkaTopics.class);

    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    @Inject
    Topics topics;

    private final Set<String> ensured = ConcurrentHashMap.newKeySet();
    private Admin admin;

    /** The shared topics and the jobs topic of each model. */
    public void ensureFor(Collection<String> models) throws KafkaUnavailableException {
        List<String> names = new ArrayList<>(List.of(topics.events(), topics.control()));
        models.forEach(m -> names.add(topics.jobs(m)));
        ensure(names);
    }

    /** Creates the topics that do not exist yet (one partition, replication from the broker's default). */
    public void ensure(Collection<String> names) throws KafkaUnavailableException {
        List<NewTopic> missing = names.stream().filter(n -> !ensured.contains(n))
                .map(n -> new NewTopic(n, Optional.of(1), Optional.empty())).toList();
        if (missing.isEmpty()) {
            return;
        }
        Admin admin = admin();
        try {
            for (var entry : admin.createTopics(missing).values().entrySet()) {
                try {
                    entry.getValue().get(6, TimeUnit.SECONDS);
                    LOG.infof("created topic %s", entry.getKey());
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new KafkaUnavailableException("cannot create topic " + entry.getKey(), e.getCause());
                    }
                }
                ensured.add(entry.getKey());
            }
        } catch (TimeoutException e) {
            throw new KafkaUnavailableException("Kafka did not answer creating topics", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaUnavailableException("interrupted creating topics", e);
        }
    }

    /**
     * Sets up the workers' share group: it starts from the earliest record of a partition it has never read,
     * instead of Kafka's default (the latest), so jobs accepted before the first worker ever polled are not
     * skipped; and a delivered record stays locked to its worker for {@code lockDuration} (the group's
     * {@code share.record.lock.duration.ms}, within the broker's min and max) instead of the broker's default.
     */
    public void prepareShareGroup(String group, Duration lockDuration) throws KafkaUnavailableException {
        Admin admin = admin();
        try {
            ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
            List<AlterConfigOp> ops = List.of(
                    new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("share.record.lock.duration.ms", Long.toString(lockDuration.toMillis())),
                            AlterConfigOp.OpType.SET));
            admin.incrementalAlterConfigs(Map.of(resource, ops)).all().get(6, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new KafkaUnavailableException("cannot configure share group " + group, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaUnavailableException("interrupted configuring share group " + group, e);
        }
    }

    /**
     * How far a share group has got through one partition: every record below {@code startOffset} has been
     * acknowledged or archived, and {@code lag} records from there on are not yet (-1 when the broker does not
     * say). The broker reports the start offset as it was before the latest acknowledgement, so the lag is what
     * tells that the last record of a partition is done.
     */
    public record ShareProgress(long startOffset, long lag) {
        /** Whether the record at {@code offset} will never be delivered again. */
        public boolean isDone(long offset) {
            return offset < startOffset || lag == 0;
        }
    }

    /** The share group's progress through each partition of the given topics; partitions it never read are absent. */
    public Map<TopicPartition, ShareProgress> shareGroupProgress(String group, Collection<String> topicNames)
            throws KafkaUnavailableException {
        Admin admin = admin();
        try {
            List<TopicPartition> partitions = new ArrayList<>();
            admin.describeTopics(topicNames).allTopicNames().get(6, TimeUnit.SECONDS).forEach((name, topic) ->
                    topic.partitions().forEach(p -> partitions.add(new TopicPartition(name, p.partition()))));
            Map<TopicPartition, ShareProgress> progress = new HashMap<>();
            admin.listShareGroupOffsets(Map.of(group, new ListShareGroupOffsetsSpec().topicPartitions(partitions)))
                    .partitionsToOffsetInfo(group).get(6, TimeUnit.SECONDS)
                    .forEach((partition, info) -> {
                        if (info != null && info.startOffset() >= 0) {
                            progress.put(partition, new ShareProgress(info.startOffset(), info.lag().orElse(-1L)));
                        }
                    });
            return progress;
        } catch (ExecutionException | TimeoutException e) {
            throw new KafkaUnavailableException("cannot read the offsets of share group " + group, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaUnavailableException("interrupted reading the offsets of share group " + group, e);
        }
    }

    /**
     * The one admin client of this process, made on first use: recovery asks for the share group's progress every
     * few seconds, and a client per call would connect and fetch metadata each time. It reconnects by itself when
     * the broker comes back.
     */
    private synchronized Admin admin() {
        if (admin == null) {
            admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000, AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 3000));
        }
        return admin;
    }

    @PreDestroy
    synchronized void close() {
        if (admin != null) {
            admin.close(Duration.ofSeconds(5));
            admin = null;
        }
    }

    /** Kafka could not be reached or refused. */
    public static final class KafkaUnavailableException extends Exception {
        public KafkaUnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}

package io.denoise.messaging;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.util.Collection;
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
        try (Admin admin = admin()) {
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
     * Makes a share group start from the earliest record of a partition it has never read, instead of Kafka's
     * default (the latest): jobs accepted before the first worker ever polled must not be skipped.
     */
    public void startShareGroupAtEarliest(String group) throws KafkaUnavailableException {
        try (Admin admin = admin()) {
            ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
            AlterConfigOp op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
            admin.incrementalAlterConfigs(Map.of(resource, List.of(op))).all().get(6, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new KafkaUnavailableException("cannot configure share group " + group, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaUnavailableException("interrupted configuring share group " + group, e);
        }
    }

    private Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000, AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 3000));
    }

    /** Kafka could not be reached or refused. */
    public static final class KafkaUnavailableException extends Exception {
        public KafkaUnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}

package io.denoise.stack;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.SharePartitionOffsetInfo;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Client-side helpers the stack tests share: Kafka topics, producing, share-group consumption, JDBC. */
final class StackClients {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private StackClients() {
    }

    /** A record taken by a share consumer, with the broker's answer to its acknowledgement. */
    record Accepted(ConsumerRecord<String, String> record, Map<TopicIdPartition, Optional<KafkaException>> commit) {
    }

    /**
     * Creates a one-partition topic and makes {@code group} start from the earliest record (share groups
     * start from the latest by default).
     */
    static void createTopic(LocalStack stack, String topic, String group) throws Exception {
        try (Admin admin = admin(stack)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.GROUP, group), List.of(
                    new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET))))
                    .all().get(30, TimeUnit.SECONDS);
        }
    }

    /** Produces one record and waits for the broker's acknowledgement. */
    static void produce(LocalStack stack, String topic, String key, String value) throws Exception {
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafkaBootstrap(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class))) {
            producer.send(new ProducerRecord<>(topic, key, value)).get(30, TimeUnit.SECONDS);
        }
    }

    /**
     * Consumes {@code topic} in share group {@code group} with explicit acknowledgement until the record
     * with {@code value} arrives, ACCEPTs every delivered record and commits the acknowledgements.
     */
    static Accepted acceptWithShareConsumer(LocalStack stack, String topic, String group, String value) {
        try (KafkaShareConsumer<String, String> consumer = new KafkaShareConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafkaBootstrap(),
                ConsumerConfig.GROUP_ID_CONFIG, group,
                ConsumerConfig.SHARE_ACKNOWLEDGEMENT_MODE_CONFIG, "explicit",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class))) {
            consumer.subscribe(List.of(topic));
            Instant deadline = Instant.now().plus(TIMEOUT);
            ConsumerRecord<String, String> found = null;
            while (found == null && Instant.now().isBefore(deadline)) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofSeconds(1))) {
                    consumer.acknowledge(record, AcknowledgeType.ACCEPT);
                    if (value.equals(record.value())) {
                        found = record;
                    }
                }
            }
            if (found == null) {
                throw new AssertionError("No record '" + value + "' on " + topic + " within " + TIMEOUT.toSeconds() + " s");
            }
            return new Accepted(found, consumer.commitSync(Duration.ofSeconds(30)));
        }
    }

    /** @return the share group's start offset (the first record not yet accepted) per partition */
    static Map<TopicPartition, SharePartitionOffsetInfo> shareGroupOffsets(LocalStack stack, String group) throws Exception {
        try (Admin admin = admin(stack)) {
            return admin.listShareGroupOffsets(Map.of(group, new ListShareGroupOffsetsSpec()))
                    .partitionsToOffsetInfo(group).get(30, TimeUnit.SECONDS);
        }
    }

    /** @return an admin client of the stack's broker */
    static Admin admin(LocalStack stack) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafkaBootstrap()));
    }

    /** @return a connection to the application's database as the application's user */
    static Connection jdbc(LocalStack stack) throws SQLException {
        return DriverManager.getConnection(stack.jdbcUrl(), stack.dbUser(), stack.dbPassword());
    }

    /** The first record of partition 0 of {@code topic}, read from the beginning (waits up to 60 s). */
    static ConsumerRecord<String, String> readFirst(LocalStack stack, String topic) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafkaBootstrap(),
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class))) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofSeconds(1))) {
                    return record;
                }
            }
            throw new AssertionError("No record on " + topic);
        }
    }

    /** Opens and closes a TCP connection to {@code host:port}; throws when nothing listens. */
    static void connect(String hostPort) throws IOException {
        String[] parts = hostPort.split(":");
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(parts[0], Integer.parseInt(parts[1])), 2000);
        }
    }
}

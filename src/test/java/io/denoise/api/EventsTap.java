package io.denoise.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.denoise.messaging.JobEvent;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Reads {@code denoise.events} from its end, as any user subscribing to the topic would. */
final class EventsTap implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule());

    private final KafkaConsumer<String, String> consumer;
    private final List<JobEvent> seen = new ArrayList<>();

    EventsTap(String bootstrap) {
        consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false), new StringDeserializer(), new StringDeserializer());
        TopicPartition p = new TopicPartition("denoise.events", 0);
        consumer.assign(List.of(p));
        consumer.seekToEnd(List.of(p));
        consumer.position(p);
    }

    /** The job's events up to and including its terminal event (in arrival order). */
    List<JobEvent> untilTerminal(UUID jobId, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            List<JobEvent> events = seen.stream().filter(e -> e.jobId().equals(jobId)).toList();
            if (events.stream().anyMatch(JobEvent::isTerminal)) {
                return events;
            }
            poll();
        }
        throw new AssertionError("no terminal event for " + jobId + " within " + timeout + "; saw "
                + seen.stream().filter(e -> e.jobId().equals(jobId)).map(JobEvent::type).toList());
    }

    /** Waits for the first event of a type for the job. */
    JobEvent first(UUID jobId, String type, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (JobEvent e : seen) {
                if (e.jobId().equals(jobId) && e.type().equals(type)) {
                    return e;
                }
            }
            poll();
        }
        throw new AssertionError("no " + type + " event for " + jobId);
    }

    private void poll() throws Exception {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
            JobEvent event = JSON.readValue(r.value(), JobEvent.class);
            if (!r.key().equals(event.jobId().toString())) {
                throw new AssertionError("event keyed " + r.key() + " for job " + event.jobId());
            }
            seen.add(event);
        }
    }

    @Override
    public void close() {
        consumer.close();
    }
}

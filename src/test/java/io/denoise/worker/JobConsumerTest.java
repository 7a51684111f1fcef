package io.denoise.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What the consumer does with a record, decided before the job thread runs it; no broker involved. */
class JobConsumerTest {

    /** Records which runner path a record took. */
    static final class RecordingRunner extends JobRunner {
        final List<String> calls = new ArrayList<>();

        @Override
        public Outcome run(UUID jobId, String workerId, int deliveries) {
            calls.add("run " + jobId + " delivery " + deliveries);
            return Outcome.ACCEPT;
        }

        @Override
        public Outcome failUnclaimed(UUID jobId, String code, String message) {
            calls.add("fail " + jobId + " " + code);
            return Outcome.REJECT;
        }
    }

    private final RecordingRunner runner = new RecordingRunner();

    private JobConsumer consumer() {
        JobConsumer consumer = new JobConsumer();
        consumer.runner = runner;
        consumer.json = new ObjectMapper();
        return consumer;
    }

    private static ConsumerRecord<String, String> record(String key, String value, int deliveries) {
        return new ConsumerRecord<>("denoise.jobs.shapes", 0, 7, 0, TimestampType.CREATE_TIME, 0, 0, key, value,
                new RecordHeaders(), Optional.empty(), Optional.of((short) deliveries));
    }

    @Test
    void aRecordRunsItsJobWithItsDeliveryCount() throws Exception {
        UUID id = UUID.randomUUID();
        consumer().task(record(id.toString(), "{\"jobId\":\"" + id + "\",\"model\":\"shapes\"}", 2)).call();
        assertEquals(List.of("run " + id + " delivery 2"), runner.calls);
    }

    @Test
    void aRecordOnTheBrokersLastDeliveryStillRunsItsJobSinceFetchesThatNeverReachedAWorkerSpentTheOthers() throws Exception {
        // Kafka 4.2 archives a record after 5 deliveries; a broker restart or a lane leaving the group spends
        // deliveries of records no worker was shown, so the count says nothing about the job: its attempts do
        UUID id = UUID.randomUUID();
        consumer().task(record(id.toString(), "{\"jobId\":\"" + id + "\",\"model\":\"shapes\"}", 5)).call();
        assertEquals(List.of("run " + id + " delivery 5"), runner.calls);
    }

    @Test
    void aMalformedRecordFailsTheJobItsKeyNamesAndOneWithoutAJobKeyIsJustRejected() throws Exception {
        UUID id = UUID.randomUUID();
        JobConsumer consumer = consumer();
        consumer.task(record(id.toString(), "{not json", 1)).call();
        consumer.task(record(id.toString(), "{\"model\":\"shapes\"}", 1)).call();
        assertEquals(JobRunner.Outcome.REJECT, consumer.task(record("not-a-job", "{not json", 1)).call());
        assertEquals(List.of("fail " + id + " MALFORMED_RECORD", "fail " + id + " MALFORMED_RECORD"), runner.calls);
    }
}

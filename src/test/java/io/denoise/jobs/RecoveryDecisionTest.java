package io.denoise.jobs;

import io.denoise.messaging.KafkaTopics;
import org.junit.jupiter.api.Test;

import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** What recovery does with a job that looks stranded, without a database or a broker. */
class RecoveryDecisionTest {

    private static Job job(Integer partition, Long offset, int attempt, int redrives) {
        Job job = new Job();
        job.id = UUID.randomUUID();
        job.model = "shapes";
        job.recordPartition = partition;
        job.recordOffset = offset;
        job.attempt = attempt;
        job.redrives = redrives;
        return job;
    }

    private static JobStore.Recovery decide(Job job, Long startOffset) {
        return decide(job, startOffset == null ? null : new KafkaTopics.ShareProgress(startOffset, 3));
    }

    private static JobStore.Recovery decide(Job job, KafkaTopics.ShareProgress progress) {
        return JobRecovery.decide(job, progress, 3, 5, "denoise.jobs.shapes", "{}");
    }

    @Test
    void aRecordAtOrAboveTheGroupsStartOffsetIsStillComingSoTheJobIsLeftAlone() {
        assertInstanceOf(JobStore.Recovery.Leave.class, decide(job(0, 10L, 0, 0), 10L));
        assertInstanceOf(JobStore.Recovery.Leave.class, decide(job(0, 11L, 1, 0), 10L));
        assertInstanceOf(JobStore.Recovery.Leave.class, decide(job(0, 11L, 1, 0), new KafkaTopics.ShareProgress(10, -1)));
    }

    @Test
    void whenTheGroupHasNothingLeftInThePartitionEveryRecordInItIsDone() {
        // the broker reports the start offset from before its latest acknowledgement: the lag is what tells
        assertInstanceOf(JobStore.Recovery.Redrive.class, decide(job(0, 10L, 0, 0), new KafkaTopics.ShareProgress(10, 0)));
    }

    @Test
    void aPartitionTheGroupHasNotReadYetStillHasEveryRecord() {
        assertInstanceOf(JobStore.Recovery.Leave.class, decide(job(0, 3L, 0, 0), (KafkaTopics.ShareProgress) null));
    }

    @Test
    void aRecordBelowTheStartOffsetIsGoneSoANewOneIsPublished() {
        JobStore.Recovery action = decide(job(0, 9L, 1, 0), 10L);
        JobStore.Recovery.Redrive redrive = assertInstanceOf(JobStore.Recovery.Redrive.class, action);
        assertEquals("denoise.jobs.shapes", redrive.topic());
    }

    @Test
    void aJobWithNoKnownRecordIsRedriven() {
        assertInstanceOf(JobStore.Recovery.Redrive.class, decide(job(null, null, 0, 0), 10L));
    }

    @Test
    void aJobWhoseAttemptsAreUsedUpFailsWithThatReason() {
        JobStore.Recovery.Fail fail = assertInstanceOf(JobStore.Recovery.Fail.class, decide(job(0, 1L, 3, 0), 10L));
        assertEquals(JobStore.ATTEMPTS_EXHAUSTED, fail.code());
    }

    @Test
    void aJobWhoseRecordWasLostTooOftenFailsAsUndeliverable() {
        JobStore.Recovery.Fail fail = assertInstanceOf(JobStore.Recovery.Fail.class, decide(job(0, 1L, 0, 5), 10L));
        assertEquals(JobRecovery.UNDELIVERABLE, fail.code());
    }
}

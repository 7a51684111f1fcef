package io.denoise.worker;

import io.denoise.jobs.ModelCard;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What a model card says of batching, from the worker's job limit and the model's timestep input. */
class BatchingModeTest {

    @Test
    void oneJobPerBatchIsOffWhateverTheModel() {
        assertEquals(ModelCard.OFF, ModelHost.batching(1, true));
        assertEquals(ModelCard.OFF, ModelHost.batching(1, false));
    }

    @Test
    void aTimestepPerRowBatchesAnyJobsAndOnePerCallOnlyJobsAtTheSameTimestep() {
        assertEquals(ModelCard.PER_SAMPLE, ModelHost.batching(8, true));
        assertEquals(ModelCard.SAME_TIMESTEP, ModelHost.batching(2, false));
    }
}

package io.denoise.worker;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SpinningTest {

    @Test
    void onnxRuntimeThreadsSpinOnlyInAWorkerThatDoesNotShareItsProcessWithTheApi() {
        assertEquals(true, ModelHost.spinning("auto", false));
        assertEquals(false, ModelHost.spinning("auto", true));
        assertEquals(true, ModelHost.spinning("on", true));
        assertEquals(false, ModelHost.spinning("off", false));
        assertThrows(IllegalArgumentException.class, () -> ModelHost.spinning("sometimes", false));
    }
}

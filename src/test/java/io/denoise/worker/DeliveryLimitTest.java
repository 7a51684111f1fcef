package io.denoise.worker;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DeliveryLimitTest {

    @Test
    void theWorkersLimitStaysBelowTheBrokersSoTheLastDeliveryIsSeen() {
        assertEquals(4, JobConsumer.deliveryLimit(4, 5));
        assertEquals(4, JobConsumer.deliveryLimit(5, 5), "equal to the broker's: the broker would archive first");
        assertEquals(4, JobConsumer.deliveryLimit(9, 5));
        assertEquals(2, JobConsumer.deliveryLimit(2, 10));
        assertEquals(1, JobConsumer.deliveryLimit(3, 2));
    }
}

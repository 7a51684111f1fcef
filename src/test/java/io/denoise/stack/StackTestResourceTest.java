package io.denoise.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.DriverManager;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Quarkus test resource starts one stack per JVM and hands every caller its configuration. */
class StackTestResourceTest {

    @Test
    void startsOneSharedStackAndReturnsItsConfig() throws Exception {
        StackTestResource first = new StackTestResource();
        Map<String, String> config = first.start();
        first.stop();
        Map<String, String> again = new StackTestResource().start();

        assertEquals(config, again, "the second start reuses the running stack");
        assertEquals(7, config.size());
        assertTrue(config.get("quarkus.datasource.jdbc.url").startsWith("jdbc:postgresql://127.0.0.1:"));
        try (Connection c = DriverManager.getConnection(config.get("quarkus.datasource.jdbc.url"),
                config.get("quarkus.datasource.username"), config.get("quarkus.datasource.password"))) {
            assertTrue(c.isValid(5), "the stack is still up after the resource's stop()");
        }
    }
}

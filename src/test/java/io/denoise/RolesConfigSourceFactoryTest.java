package io.denoise;

import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A process without the api role has its events-in channel switched off, unless configured explicitly. */
class RolesConfigSourceFactoryTest {

    private static Optional<String> eventsInEnabled(Map<String, String> properties) {
        SmallRyeConfig config = new SmallRyeConfigBuilder()
                .withSources(new PropertiesConfigSource(properties, "test", 250))
                .withSources(new RolesConfigSourceFactory())
                .build();
        return config.getOptionalValue(RolesConfigSourceFactory.EVENTS_IN_ENABLED, String.class);
    }

    @Test
    void aWorkerOnlyProcessDoesNotReadTheEventsTopic() {
        assertEquals(Optional.of("false"), eventsInEnabled(Map.of("denoise.roles", "worker")));
    }

    @Test
    void aProcessWithTheApiRoleReadsIt() {
        assertEquals(Optional.empty(), eventsInEnabled(Map.of("denoise.roles", "api")));
        assertEquals(Optional.empty(), eventsInEnabled(Map.of("denoise.roles", "worker, api")));
        assertEquals(Optional.empty(), eventsInEnabled(Map.of()));
    }

    @Test
    void anExplicitSettingWins() {
        assertEquals(Optional.of("true"), eventsInEnabled(Map.of("denoise.roles", "worker",
                RolesConfigSourceFactory.EVENTS_IN_ENABLED, "true")));
    }
}

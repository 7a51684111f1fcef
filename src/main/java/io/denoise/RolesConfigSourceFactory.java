package io.denoise;

import io.denoise.messaging.Topics;
import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.common.MapBackedConfigSource;
import org.eclipse.microprofile.config.spi.ConfigSource;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Configuration that follows from {@code denoise.roles}: a process without the {@code api} role does not read
 * {@code denoise.events} at all ({@code mp.messaging.incoming.events-in.enabled=false}), so a worker-only pod
 * neither subscribes to the topic nor buffers events. Low ordinal: an explicit setting of the key wins.
 */
public class RolesConfigSourceFactory implements ConfigSourceFactory {

    static final String EVENTS_IN_ENABLED = "mp.messaging.incoming." + Topics.EVENTS_IN + ".enabled";
    private static final int ORDINAL = 50;

    @Override
    public Iterable<ConfigSource> getConfigSources(ConfigSourceContext context) {
        ConfigValue value = context.getValue("denoise.roles");
        String roles = value == null || value.getValue() == null ? Roles.DEFAULT : value.getValue();
        Set<String> set = Arrays.stream(roles.split(",")).map(String::trim).collect(Collectors.toSet());
        if (set.contains(Roles.API)) {
            return List.of();
        }
        return List.of(new MapBackedConfigSource("denoise.roles derived", Map.of(EVENTS_IN_ENABLED, "false"), ORDINAL) {
        });
    }
}

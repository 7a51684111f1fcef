package io.denoise.worker;

import io.denoise.Roles;
import io.denoise.jobs.ModelCard;
import io.denoise.jobs.ModelRegistry;
import io.denoise.storage.ImageStore;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.jboss.logging.Logger;

import java.net.InetAddress;
import java.util.List;

/**
 * The worker role's lifecycle: load the models, register them, make sure the bucket exists, start taking jobs
 * (the consumer waits for Kafka and prepares its topics and share group); on shutdown stop taking jobs and let the current one finish (or release it). Ready once the models
 * are loaded and the consumer polls.
 */
@ApplicationScoped
@Readiness
public class WorkerService implements HealthCheck {

    private static final Logger LOG = Logger.getLogger(WorkerService.class);

    @Inject
    Roles roles;

    @Inject
    WorkerConfig config;

    @Inject
    ModelHost models;

    @Inject
    ModelRegistry registry;

    @Inject
    ImageStore images;

    @Inject
    JobConsumer consumer;

    @Inject
    InferenceLoop inference;

    void start(@Observes StartupEvent event) {
        if (!roles.worker()) {
            return;
        }
        List<ModelCard> cards = models.load();
        cards.forEach(registry::register);
        try {
            images.ensureBucket();
        } catch (ImageStore.StorageException e) {
            LOG.warnf("image store not reachable yet (%s); retried on first write", e.getMessage());
        }
        consumer.start(models.served(), workerId());
    }

    void stop(@Observes ShutdownEvent event) throws InterruptedException {
        if (!roles.worker()) {
            return;
        }
        if (consumer.stop(config.shutdownGrace())) {
            inference.stop();
            models.close();
        } else {
            LOG.warn("a generation is still running; leaving its models open for the process exit");
        }
    }

    String workerId() {
        return config.id().orElseGet(() -> {
            String host;
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (Exception e) {
                host = "worker";
            }
            return host + "-" + ProcessHandle.current().pid();
        });
    }

    @Override
    public HealthCheckResponse call() {
        boolean ready = !roles.worker() || (models.isLoaded() && consumer.isPolling());
        return HealthCheckResponse.named("worker").status(ready)
                .withData("models", String.join(",", models.served()))
                .withData("polling", consumer.isPolling()).build();
    }
}

package io.denoise.worker;

import io.denoise.Roles;
import io.denoise.jobs.LimitsConfig;
import io.denoise.jobs.ModelCard;
import io.denoise.pipeline.ModelSet;
import io.denoise.pipeline.RuntimeOptions;
import io.denoise.pipeline.SessionFactory;
import io.denoise.pipeline.TextToImagePipeline;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The models this worker serves: loaded once at start (one ONNX Runtime session per model part, shared by every
 * job) and closed at shutdown. Thread-safe after {@link #load()}.
 */
@ApplicationScoped
public class ModelHost {

    private static final Logger LOG = Logger.getLogger(ModelHost.class);

    @Inject
    ModelsConfig modelsConfig;

    @Inject
    WorkerConfig config;

    @Inject
    Roles roles;

    @Inject
    LimitsConfig requestLimits;

    private final Map<String, ModelSet> models = new LinkedHashMap<>();
    private final Map<String, TextToImagePipeline> pipelines = new LinkedHashMap<>();
    private volatile boolean loaded;

    /** Loads every configured model; a model that fails to load fails the worker's start. */
    synchronized List<ModelCard> load() {
        ModelsConfig m = modelsConfig;
        SessionFactory sessions = new SessionFactory(new RuntimeOptions(m.device(), m.cudaDeviceId(), m.intraOpThreads(),
                spinning(m.spin(), roles.api())));
        TextToImagePipeline.Limits limits = new TextToImagePipeline.Limits(config.maxBatchImages(), requestLimits.toLimits());
        List<ModelCard> cards = new ArrayList<>();
        for (String name : m.serve()) {
            long start = System.nanoTime();
            ModelSet model = ModelSet.load(m.dir().resolve(name), sessions);
            models.put(name, model);
            TextToImagePipeline pipeline = new TextToImagePipeline(model, limits);
            pipelines.put(name, pipeline);
            String batching = batching(config.maxBatchJobs(), model.timestepPerSample());
            cards.add(ModelCard.of(pipeline.profile(), model.hash(), batching, Instant.now()));
            LOG.infof("loaded model %s (%s, %s) on %s in %d ms; batching %s", name, model.hash(), model.floatType(),
                    model.device(), (System.nanoTime() - start) / 1_000_000, switch (batching) {
                        case ModelCard.PER_SAMPLE -> "per sample (its UNet takes a timestep per row)";
                        case ModelCard.SAME_TIMESTEP -> "only jobs at the same timestep (its UNet takes one timestep per call)";
                        default -> "off (one job at a time)";
                    });
        }
        loaded = true;
        return cards;
    }

    /** How a model's jobs share UNet calls: {@link ModelCard#PER_SAMPLE}, {@link ModelCard#SAME_TIMESTEP} or off. */
    static String batching(int maxBatchJobs, boolean timestepPerSample) {
        if (maxBatchJobs <= 1) {
            return ModelCard.OFF;
        }
        return timestepPerSample ? ModelCard.PER_SAMPLE : ModelCard.SAME_TIMESTEP;
    }

    /** Whether ONNX Runtime's threads may spin, from {@code denoise.models.spin} and the process's roles. */
    static boolean spinning(String spin, boolean alsoApi) {
        return switch (spin) {
            case "on" -> true;
            case "off" -> false;
            case "auto" -> !alsoApi;
            default -> throw new IllegalArgumentException("denoise.models.spin must be on, off or auto, not '" + spin + "'");
        };
    }

    public boolean isLoaded() {
        return loaded;
    }

    /** The pipeline of a served model, or null. */
    public TextToImagePipeline pipeline(String model) {
        return pipelines.get(model);
    }

    public List<String> served() {
        return List.copyOf(models.keySet());
    }

    synchronized void close() {
        for (ModelSet model : models.values()) {
            try {
                model.close();
            } catch (RuntimeException e) {
                LOG.warnf(e, "closing model %s", model.name());
            }
        }
        models.clear();
        pipelines.clear();
        loaded = false;
    }
}

package io.denoise.scheduler;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchedulerKindTest {

    @Test
    void everyIdIsUniqueAndCreatesTheSchedulerOfItsDiffusersClass() {
        assertEquals(SchedulerKind.values().length, new HashSet<>(SchedulerKind.ids()).size());
        for (SchedulerKind kind : SchedulerKind.values()) {
            Scheduler scheduler = kind.create(SchedulerConfig.defaults(), 0.0);
            String ported = kind.diffusersClass().replace("DPMSolver", "DpmSolver").replace("UniPC", "UniPc")
                    .replace("PNDM", "Pndm").replace("LMS", "Lms").replace("DDIM", "Ddim").replace("DDPM", "Ddpm");
            assertEquals(ported, scheduler.getClass().getSimpleName(), kind.id());
        }
    }

    @Test
    void aModelsSchedulerClassMapsToTheFirstKindPortingIt() {
        assertEquals(SchedulerKind.DPMPP_2M, SchedulerKind.forClass("DPMSolverMultistepScheduler").orElseThrow());
        assertEquals(SchedulerKind.PNDM, SchedulerKind.forClass("PNDMScheduler").orElseThrow());
        assertTrue(SchedulerKind.forClass("FlowMatchEulerDiscreteScheduler").isEmpty());
    }

    @Test
    void theClassNamedInAConfigBringsItsDefaults() {
        SchedulerConfig ddim = SchedulerConfig.fromMap(Map.of("_class_name", "DDIMScheduler"));
        SchedulerConfig pndm = SchedulerConfig.fromMap(Map.of("_class_name", "PNDMScheduler"));
        assertEquals(true, ddim.toMap().get("set_alpha_to_one"));
        assertEquals(false, pndm.toMap().get("set_alpha_to_one"));
    }

    @Test
    void karrasSigmasAreWhatTellsTheTwoDpmSolverKindsApart() {
        assertInstanceOf(DpmSolverMultistepScheduler.class, SchedulerKind.DPMPP_2M_KARRAS.create(SchedulerConfig.defaults(), 0));
        assertEquals(List.of("pndm", "lms", "ddim", "euler", "euler-ancestral", "dpmpp-2m", "dpmpp-2m-karras", "ddpm",
                "heun", "unipc"), SchedulerKind.ids());
    }
}

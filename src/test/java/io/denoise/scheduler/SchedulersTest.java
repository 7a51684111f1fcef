package io.denoise.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class SchedulersTest {

    @Test
    void offersTheTenDocumentedIds() {
        assertEquals(List.of("pndm", "lms", "ddim", "euler", "euler-ancestral", "dpmpp-2m", "dpmpp-2m-karras",
                "ddpm", "heun", "unipc"), Schedulers.ids());
    }

    @Test
    void createsTheDiffusersClassOfEachId() throws Exception {
        SchedulerConfig c = SchedulerConfigTest.sd15();
        assertInstanceOf(PndmScheduler.class, Schedulers.create("pndm", c));
        assertInstanceOf(LmsDiscreteScheduler.class, Schedulers.create("lms", c));
        assertInstanceOf(DdimScheduler.class, Schedulers.create("ddim", c));
        assertInstanceOf(EulerDiscreteScheduler.class, Schedulers.create("euler", c));
        assertInstanceOf(EulerAncestralDiscreteScheduler.class, Schedulers.create("euler-ancestral", c));
        assertInstanceOf(DpmSolverMultistepScheduler.class, Schedulers.create("dpmpp-2m", c));
        assertInstanceOf(DpmSolverMultistepScheduler.class, Schedulers.create("dpmpp-2m-karras", c));
        assertInstanceOf(DdpmScheduler.class, Schedulers.create("ddpm", c));
        assertInstanceOf(HeunDiscreteScheduler.class, Schedulers.create("heun", c));
        assertInstanceOf(UniPcMultistepScheduler.class, Schedulers.create("unipc", c));
        assertEquals(0.0, ((DdimScheduler) Schedulers.create("ddim", c)).eta());
    }

    @Test
    void unknownIdIsRejectedListingTheValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Schedulers.create("k_euler", SchedulerConfig.defaults()));
        assertTrue(e.getMessage().contains("k_euler"), e.getMessage());
        for (String id : Schedulers.ids()) {
            assertTrue(e.getMessage().contains(id), e.getMessage());
        }
    }

    @Test
    void karrasVariantTurnsOnKarrasSigmasAndPlainVariantTurnsThemOff() throws Exception {
        SchedulerConfig karrasInConfig = SchedulerConfigTest.sd15().with(Map.of("use_karras_sigmas", true));
        Scheduler plain = Schedulers.create("dpmpp-2m", karrasInConfig);
        Scheduler karras = Schedulers.create("dpmpp-2m-karras", SchedulerConfigTest.sd15());
        plain.setTimesteps(4);
        karras.setTimesteps(4);
        // leading: step ratio 1000 // 5 = 200, plus steps_offset 1
        assertArrayEquals(new double[] {801, 601, 401, 201}, plain.timesteps());
        // Karras: sigma_max..sigma_min of the training schedule, timesteps by log-sigma interpolation
        assertArrayEquals(new double[] {999, 687, 146, 0}, karras.timesteps());
    }

    @Test
    void img2imgKeepsTheLastStrengthFractionOfTheSchedule() throws Exception {
        Scheduler euler = Schedulers.create("euler", SchedulerConfigTest.sd15());
        euler.setTimesteps(20);
        double[] t = Schedulers.img2imgTimesteps(euler, 20, 0.3);
        // int(20 * 0.3) = 6 steps; t_start = 14
        assertArrayEquals(new double[] {251, 201, 151, 101, 51, 1}, t);
        assertEquals(OptionalInt.of(14), euler.beginIndex());
    }

    @Test
    void img2imgOfSecondOrderSchedulerSkipsOrderTimesTStartEntries() throws Exception {
        Scheduler heun = Schedulers.create("heun", SchedulerConfigTest.sd15());
        heun.setTimesteps(20);
        double[] t = Schedulers.img2imgTimesteps(heun, 20, 0.3);
        assertEquals(11, t.length);
        assertEquals(251, t[0]);
        assertEquals(OptionalInt.of(28), heun.beginIndex());
    }

    @Test
    void img2imgTruncatesLikePythonIntOfTheProduct() throws Exception {
        Scheduler ddim = Schedulers.create("ddim", SchedulerConfigTest.sd15());
        ddim.setTimesteps(10);
        assertEquals(7, Schedulers.img2imgTimesteps(ddim, 10, 0.7).length, "int(7.000000000000001) = 7");
        assertEquals(2, Schedulers.img2imgTimesteps(ddim, 10, 0.29).length, "int(2.9) = 2");
        assertEquals(10, Schedulers.img2imgTimesteps(ddim, 10, 1.0).length);
        assertEquals(0, Schedulers.img2imgTimesteps(ddim, 10, 0.0).length);
        assertFalse(ddim.beginIndex().isPresent(), "DDIM has no set_begin_index in diffusers");
        assertThrows(IllegalArgumentException.class, () -> Schedulers.img2imgTimesteps(ddim, 10, 1.5));
    }
}

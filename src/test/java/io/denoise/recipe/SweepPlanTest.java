package io.denoise.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A sweep's shape: reading one, its cells, whom a broken rule is blamed on, and the command line's axes. */
class SweepPlanTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String BASE = "\"base\":{\"prompt\":\"a red circle on a red background\",\"seed\":7}";

    private static SweepPlan read(String body) throws Exception {
        return read(body, 64);
    }

    private static SweepPlan read(String body, int maxCells) throws Exception {
        return SweepPlan.read(JSON.readTree(body), maxCells);
    }

    private static InvalidRequestException refused(String body, int maxCells) {
        return assertThrows(InvalidRequestException.class, () -> read(body, maxCells), body);
    }

    // ---- read

    @ParameterizedTest(name = "{1}: {0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "[1, 2]                                                                   | body      | must be a JSON object",
            "{\"x\":{\"field\":\"seed\",\"values\":[1]}}                              | base      | is required",
            "{\"base\":\"a red circle\",\"x\":{\"field\":\"seed\",\"values\":[1]}}    | base      | is required",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[1]},\"z\":{}}                | z         | is not a known field; known fields are [base, x, y]",
            "{BASE}                                                                   | x         | is required",
            "{BASE,\"x\":[1,2]}                                                       | x         | must be an object",
            "{BASE,\"x\":{\"values\":[1]}}                                            | x.field   | must be one of [eta, guidanceScale, negativePrompt, numInferenceSteps, prompt, scheduler, seed, strength]",
            "{BASE,\"x\":{\"field\":\"width\",\"values\":[32,64]}}                    | x.field   | must be one of [eta,",
            "{BASE,\"x\":{\"field\":7,\"values\":[32,64]}}                            | x.field   | must be one of [eta,",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[1],\"labels\":[\"a\"]}}      | x.labels  | is not a known field; known fields are [field, values]",
            "{BASE,\"x\":{\"field\":\"seed\"}}                                        | x.values  | must be a non-empty array",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[]}}                          | x.values  | must be a non-empty array",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":7}}                           | x.values  | must be a non-empty array",
            "{BASE,\"x\":{\"field\":\"guidanceScale\",\"values\":[1,\"2\"]}}          | x.values[1] | must be a number for guidanceScale",
            "{BASE,\"x\":{\"field\":\"numInferenceSteps\",\"values\":[10,2.5]}}       | x.values[1] | must be an integer for numInferenceSteps",
            "{BASE,\"x\":{\"field\":\"scheduler\",\"values\":[\"pndm\",3]}}           | x.values[1] | must be a string for scheduler",
            "{BASE,\"x\":{\"field\":\"negativePrompt\",\"values\":[null]}}            | x.values[0] | must be a string for negativePrompt",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[1,true]}}                    | x.values[1] | must be an integer or a string of digits for seed",
            "{BASE,\"x\":{\"field\":\"guidanceScale\",\"values\":[1,2,1]}}            | x.values[2] | repeats x.values[0] (1)",
            "{BASE,\"x\":{\"field\":\"guidanceScale\",\"values\":[1,1.0]}}            | x.values[1] | repeats x.values[0] (1.0)",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[7,\"007\"]}}                 | x.values[1] | repeats x.values[0] (007)",
            "{BASE,\"x\":{\"field\":\"scheduler\",\"values\":[\"ddim\",\"ddim\"]}}    | x.values[1] | repeats x.values[0] (ddim)",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[1]},\"y\":{\"field\":\"seed\",\"values\":[2]}} | y.field | must differ from x.field (seed)",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[1]},\"y\":{\"field\":\"size\",\"values\":[2]}} | y.field | must be one of",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[1]},\"y\":{\"field\":\"eta\",\"values\":[]}}   | y.values | must be a non-empty array",
            "{BASE,\"x\":{\"field\":\"prompt\",\"values\":[\"blue\",\"green\"]}}      | x.values[0] | must appear in base.prompt",
            "{BASE,\"x\":{\"field\":\"prompt\",\"values\":[\"\",\"green\"]}}          | x.values[0] | must appear in base.prompt",
            "{BASE,\"x\":{\"field\":\"seed\",\"values\":[1]},\"y\":{\"field\":\"prompt\",\"values\":[\"square\"]}} | y.values[0] | must appear in base.prompt",
    })
    void aMalformedStudyIsRefusedNamingTheField(String body, String field, String rule) {
        InvalidRequestException e = refused(body.replace("BASE", BASE), 64);
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.rule().startsWith(rule), e.getMessage());
    }

    @Test
    void tooManyCellsAreRefusedOnTheAxisThatMakesThem() throws Exception {
        String nine = "{\"field\":\"seed\",\"values\":[1,2,3,4,5,6,7,8,9]}";
        InvalidRequestException e = refused("{" + BASE + ",\"x\":" + nine + "}", 8);
        assertEquals("x.values", e.field());
        assertEquals("make 9 cells; a sweep has at most 8", e.rule());
        e = refused("{" + BASE + ",\"x\":" + nine + ",\"y\":{\"field\":\"eta\",\"values\":[0,0.5]}}", 17);
        assertEquals("y.values", e.field());
        assertEquals("make 18 cells; a sweep has at most 17", e.rule());
        assertEquals(18, read("{" + BASE + ",\"x\":" + nine + ",\"y\":{\"field\":\"eta\",\"values\":[0,0.5]}}", 18)
                .cells());
    }

    @Test
    void aNullYIsNoY() throws Exception {
        SweepPlan plan = read("{" + BASE + ",\"x\":{\"field\":\"seed\",\"values\":[1,2]},\"y\":null}");
        assertNull(plan.y());
        assertEquals(1, plan.rows());
        assertEquals(List.of(plan.x()), plan.axes());
    }

    // ---- cells

    @Test
    void cellsAreRowMajorWithBothAxesApplied() throws Exception {
        SweepPlan plan = read("{" + BASE + ",\"x\":{\"field\":\"guidanceScale\",\"values\":[1,2.5,4]},"
                + "\"y\":{\"field\":\"scheduler\",\"values\":[\"pndm\",\"ddim\"]}}");
        assertEquals(3, plan.columns());
        assertEquals(2, plan.rows());
        assertEquals(6, plan.cells());
        String[] guidance = {"1", "2.5", "4"};
        String[] scheduler = {"pndm", "ddim"};
        for (int i = 0; i < 6; i++) {
            ObjectNode cell = plan.cell(i);
            assertEquals(guidance[i % 3], cell.get("guidanceScale").toString(), "cell " + i);
            assertEquals(scheduler[i / 3], cell.get("scheduler").asText(), "cell " + i);
            assertEquals("a red circle on a red background", cell.get("prompt").asText());
            assertEquals(7, cell.get("seed").asInt());
        }
        assertEquals("guidanceScale 2.5, scheduler ddim", plan.describe(4));
        assertThrows(IndexOutOfBoundsException.class, () -> plan.cell(6));
        assertThrows(IndexOutOfBoundsException.class, () -> plan.cell(-1));
        assertFalse(plan.base().has("guidanceScale"), "cells do not change the base");
    }

    @Test
    void aPromptAxisReplacesItsFirstValueEverywhereInThePrompt() throws Exception {
        SweepPlan plan = read("{" + BASE + ",\"x\":{\"field\":\"prompt\",\"values\":[\"red\",\"blue\",\"\"]}}");
        assertEquals("a red circle on a red background", plan.cell(0).get("prompt").asText());
        assertEquals("a blue circle on a blue background", plan.cell(1).get("prompt").asText());
        assertEquals("a  circle on a  background", plan.cell(2).get("prompt").asText());
        assertEquals("prompt S/R", plan.x().title());
        assertEquals("\"\"", plan.x().label(2));

        SweepPlan two = read("{" + BASE + ",\"x\":{\"field\":\"negativePrompt\",\"values\":[\"\",\"blue\"]},"
                + "\"y\":{\"field\":\"prompt\",\"values\":[\"circle\",\"square\"]}}");
        assertEquals("a red square on a red background", two.cell(3).get("prompt").asText());
        assertEquals("blue", two.cell(3).get("negativePrompt").asText());
        assertEquals("", two.cell(2).get("negativePrompt").asText());
    }

    @Test
    void thePlanIsImmutable() throws Exception {
        SweepPlan plan = read("{" + BASE + ",\"x\":{\"field\":\"seed\",\"values\":[1,2]}}");
        String before = plan.toJson().toString();
        ((ObjectNode) plan.toJson().get("base")).put("prompt", "changed");
        plan.base().put("prompt", "changed");
        ((ObjectNode) plan.toJson().get("x")).put("field", "eta");
        assertEquals(before, plan.toJson().toString());
        ObjectNode base = JSON.createObjectNode().put("prompt", "a red circle");
        SweepPlan made = new SweepPlan(base, plan.x(), null);
        base.put("prompt", "changed");
        assertEquals("a red circle", made.base().get("prompt").asText());
    }

    @Test
    void theJsonFormReadsBackAsTheSamePlan() throws Exception {
        SweepPlan plan = read("{" + BASE + ",\"x\":{\"field\":\"guidanceScale\",\"values\":[1,2.5]},"
                + "\"y\":{\"field\":\"seed\",\"values\":[\"1\",2]}}");
        JsonNode json = plan.toJson();
        assertEquals("{" + BASE + ",\"x\":{\"field\":\"guidanceScale\",\"values\":[1,2.5]},"
                + "\"y\":{\"field\":\"seed\",\"values\":[\"1\",2]}}", json.toString());
        assertEquals(plan, SweepPlan.read(json, 64));
        assertEquals(plan, read(json.toString()));
    }

    // ---- blame

    @Test
    void aBrokenRuleIsBlamedOnTheAxisValueOrTheBaseField() throws Exception {
        SweepPlan plan = read("{" + BASE + ",\"x\":{\"field\":\"guidanceScale\",\"values\":[1,99]},"
                + "\"y\":{\"field\":\"numInferenceSteps\",\"values\":[10,0,20]}}");
        InvalidRequestException x = plan.blame(5, new InvalidRequestException("guidanceScale", "must be at most 50"));
        assertEquals("x.values[1]", x.field());
        assertEquals("(guidanceScale 99): guidanceScale must be at most 50", x.rule());
        assertEquals("x.values[1]: (guidanceScale 99): guidanceScale must be at most 50", x.getMessage());
        InvalidRequestException y = plan.blame(2, new InvalidRequestException("numInferenceSteps", "must be 1 to 150"));
        assertEquals("y.values[1]", y.field());
        assertEquals("(numInferenceSteps 0): numInferenceSteps must be 1 to 150", y.rule());
        InvalidRequestException base = plan.blame(3, new InvalidRequestException("width", "must be a multiple of 8"));
        assertEquals("base.width", base.field());
        assertEquals("must be a multiple of 8 (in cell 3: guidanceScale 99, numInferenceSteps 0)", base.rule());

        // the same through the rules themselves
        ModelProfile model = RequestRulesTest.MODEL;
        InvalidRequestException broken = null;
        for (int i = 0; i < plan.cells() && broken == null; i++) {
            try {
                RequestReader.read(plan.cell(i), model, ServiceLimits.DEFAULT, null, () -> {
                    throw new AssertionError("every cell has a seed");
                });
            } catch (InvalidRequestException e) {
                broken = plan.blame(i, e);
            }
        }
        assertEquals("x.values[1]", broken.field(), broken.getMessage());
        assertTrue(broken.rule().startsWith("(guidanceScale 99): guidanceScale must be a number between 0 and 50"),
                broken.rule());
    }

    // ---- the command line's axes

    @Test
    void parseOptionTypesValuesByField() {
        SweepPlan.Axis guidance = SweepPlan.parseOption("x", "guidanceScale=0.25,1, 1.50 ,10,20");
        assertEquals("x", guidance.name());
        assertEquals("guidanceScale", guidance.field());
        assertEquals("[0.25,1,1.50,10,20]", guidance.toJson().get("values").toString());
        assertTrue(guidance.values().stream().allMatch(JsonNode::isNumber));
        assertEquals(List.of("0.25", "1", "1.5", "10", "20"),
                List.of(guidance.label(0), guidance.label(1), guidance.label(2), guidance.label(3), guidance.label(4)));

        SweepPlan.Axis one = SweepPlan.parseOption("x", "guidanceScale=1");
        assertEquals("1", one.label(0), "1, not 1.0");
        assertEquals("1", SweepPlan.parseOption("x", "guidanceScale=1.0").label(0));
        assertEquals("0", SweepPlan.parseOption("x", "guidanceScale=0.00").label(0));

        SweepPlan.Axis steps = SweepPlan.parseOption("y", "numInferenceSteps=10,20");
        assertEquals("y", steps.name());
        assertTrue(steps.values().stream().allMatch(JsonNode::isInt), steps.values().toString());

        SweepPlan.Axis seeds = SweepPlan.parseOption("x", "seed=1,18446744073709551615");
        assertTrue(seeds.values().stream().allMatch(JsonNode::isTextual), "seeds stay exact as text");
        assertEquals("18446744073709551615", seeds.label(1));

        SweepPlan.Axis negative = SweepPlan.parseOption("x", "negativePrompt=,red");
        assertEquals("[\"\",\"red\"]", negative.toJson().get("values").toString());
        assertEquals("\"\"", negative.label(0));
        assertEquals("red", negative.label(1));
        assertEquals("[\"pndm\",\"ddim\"]", SweepPlan.parseOption("x", "scheduler=pndm, ddim").toJson().get("values")
                .toString(), "spaces around a value are dropped");
    }

    @Test
    void parseOptionErrorsNameTheOption() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> SweepPlan.parseOption("x", "guidanceScale"));
        assertEquals("--sweep", e.field());
        assertTrue(e.rule().startsWith("must be FIELD=V1,V2,…"), e.rule());
        e = assertThrows(InvalidRequestException.class, () -> SweepPlan.parseOption("y", "width=32,64"));
        assertEquals("--sweep-y", e.field());
        assertTrue(e.rule().startsWith("cannot vary width; fields: [eta, guidanceScale,"), e.rule());
        e = assertThrows(InvalidRequestException.class, () -> SweepPlan.parseOption("x", "guidanceScale=1,lots"));
        assertEquals("--sweep: guidanceScale: not a number: 'lots'", e.getMessage());
        e = assertThrows(InvalidRequestException.class, () -> SweepPlan.parseOption("x", "numInferenceSteps=10,2.5"));
        assertEquals("--sweep: numInferenceSteps: not an integer: '2.5'", e.getMessage());
        e = assertThrows(InvalidRequestException.class, () -> SweepPlan.parseOption("x", "guidanceScale=1,1.0"));
        assertEquals("x.values[1]: repeats x.values[0] (1.0)", e.getMessage());
        e = assertThrows(InvalidRequestException.class, () -> SweepPlan.parseOption("x", "guidanceScale="));
        assertEquals("--sweep: guidanceScale: not a number: ''", e.getMessage());
    }
}

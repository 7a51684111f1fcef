package io.denoise.images;

import io.denoise.recipe.SweepPlan;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The grid of a sweep, drawn the same way by the service and the command line: a two-axis sweep as an X/Y plot
 * (x values over the columns, y values down the rows); a one-axis sweep laid out ⌈√n⌉ cells a row, the axis in the
 * title and each cell captioned with its value (nine guidance values make the walkthrough's 3 × 3 grid). The PNG's {@code sweep} text chunk holds
 * the plan (base recipe and axes) as JSON; each cell's own PNG keeps its own recipe. Stateless.
 */
public final class SweepGrid {

    /** The text chunk keyword under which the grid carries its plan. */
    public static final String PLAN_KEYWORD = "sweep";

    private SweepGrid() {
    }

    /**
     * @param cells one per cell of the plan, row-major: an image, or a mark for a failed or cancelled cell
     * @throws IllegalArgumentException when there are not as many cells as the plan has, or {@link Grid} refuses them
     */
    public static byte[] render(SweepPlan plan, List<? extends Grid.Cell> cells) {
        if (cells.size() != plan.cells()) {
            throw new IllegalArgumentException("a sweep of " + plan.columns() + " × " + plan.rows() + " needs "
                    + plan.cells() + " cells, got " + cells.size());
        }
        String prompt = plan.base().path("prompt").asText("");
        Map<String, String> text = new LinkedHashMap<>();
        text.put(PLAN_KEYWORD, plan.toJson().toString());
        if (plan.y() == null) {
            // the axis named once, in the title; each cell captioned with its value alone
            List<String> captions = new ArrayList<>();
            for (int i = 0; i < plan.columns(); i++) {
                captions.add(plan.x().label(i));
            }
            return Grid.images(plan.x().title() + "\n" + prompt, cells, captions, Grid.columnsFor(cells.size()), text);
        }
        return Grid.plot(prompt, axis(plan.x()), axis(plan.y()), cells, text);
    }

    private static Grid.Axis axis(SweepPlan.Axis axis) {
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < axis.values().size(); i++) {
            labels.add(axis.label(i));
        }
        return new Grid.Axis(axis.title(), labels);
    }
}

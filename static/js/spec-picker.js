// Spec picker for the product page: pick one value per dimension (颜色 × 尺码), see the SKU's price and
// stock, and post its id with the quantity. Values that cannot lead to an in-stock SKU, given what is
// already picked, are disabled. No libraries; data comes from the page's #sku-data JSON.
(function () {
  "use strict";
  var dataNode = document.getElementById("sku-data");
  var picker = document.getElementById("spec-picker");
  if (!dataNode || !picker) return;
  var data = JSON.parse(dataNode.textContent);
  var text = JSON.parse(document.getElementById("picker-text").textContent);
  var skus = data.skus;
  var dimensions = data.dimensions;
  var chosen = {}; // dimension id -> value id
  var priceNode = document.getElementById("picker-price");
  var statusNode = document.getElementById("picker-status");
  var quantityInput = document.getElementById("picker-quantity");
  var forms = document.querySelectorAll(".buy-form");
  var initialPrice = priceNode ? priceNode.textContent : "";

  function yuan(fen) {
    var sign = fen < 0 ? "-" : "";
    fen = Math.abs(fen);
    var whole = Math.floor(fen / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var cents = ("0" + (fen % 100)).slice(-2);
    return sign + "¥" + whole + "." + cents;
  }

  // A SKU matches a (partial) choice when it has every chosen value.
  function matches(sku, choice) {
    for (var dimension in choice) {
      if (sku.values.indexOf(choice[dimension]) === -1) return false;
    }
    return true;
  }

  function inStockWith(choice) {
    return skus.some(function (sku) { return sku.stock > 0 && matches(sku, choice); });
  }

  function selectedSku() {
    if (Object.keys(chosen).length !== dimensions.length) return null;
    for (var i = 0; i < skus.length; i++) {
      if (matches(skus[i], chosen) && skus[i].values.length === dimensions.length) return skus[i];
    }
    return null;
  }

  function refresh() {
    // Disable values that cannot complete to an in-stock SKU with the other dimensions' choices.
    picker.querySelectorAll(".spec-value").forEach(function (button) {
      var dimension = button.dataset.dimension;
      var value = parseInt(button.dataset.value, 10);
      var trial = {};
      for (var d in chosen) { if (d !== dimension) trial[d] = chosen[d]; }
      trial[dimension] = value;
      var possible = inStockWith(trial);
      button.disabled = !possible;
      button.classList.toggle("sold-out", !possible);
      var pressed = chosen[dimension] === value;
      button.setAttribute("aria-pressed", pressed ? "true" : "false");
      button.classList.toggle("selected", pressed);
    });

    var sku = selectedSku();
    var quantity = Math.max(1, parseInt(quantityInput.value, 10) || 1);
    if (sku && sku.stock > 0) {
      quantity = Math.min(quantity, sku.stock);
      quantityInput.max = sku.stock;
      quantityInput.value = quantity;
      if (priceNode) priceNode.textContent = yuan(sku.price_fen);
      statusNode.textContent = (sku.label ? sku.label + " · " : "") + text.stock + " " + sku.stock;
    } else {
      if (priceNode) priceNode.textContent = sku ? yuan(sku.price_fen) : initialPrice;
      statusNode.textContent = sku ? text.soldOut : (dimensions.length ? text.choose : text.soldOut);
    }
    forms.forEach(function (form) {
      form.querySelector("input[name=sku_id]").value = sku && sku.stock > 0 ? sku.id : "";
      form.querySelector("input[name=quantity]").value = quantity;
      form.querySelector("button[type=submit]").disabled = !(sku && sku.stock > 0);
    });
  }

  picker.addEventListener("click", function (event) {
    var button = event.target.closest(".spec-value");
    if (!button || button.disabled) return;
    var dimension = button.dataset.dimension;
    var value = parseInt(button.dataset.value, 10);
    if (chosen[dimension] === value) delete chosen[dimension];
    else chosen[dimension] = value;
    refresh();
  });
  quantityInput.addEventListener("input", refresh);

  // A product with no specs has a single SKU: nothing to pick.
  refresh();
})();

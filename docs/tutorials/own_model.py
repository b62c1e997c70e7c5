# %% [markdown]
# # placeholder

# %%
print(1)
